import Foundation

extension ModelRepository {
    /// Writes a new version of `name` atomically and returns its number.
    ///
    /// `build` fills a hidden temporary directory inside the model's directory
    /// (typically `model.save(to: dir)` plus metrics.json and recipe.json via
    /// `JSONFile.write`). With `validate` (the default) the result must load as a
    /// version would (`GraphModel.load`, metrics and recipe JSON objects, and the
    /// config's input shape and labels when config.json exists); otherwise publish
    /// throws `invalidBuild` and nothing appears. Then every file is fsynced and
    /// the directory renamed to the next integer (1 for a new model). A publisher
    /// that loses a race for a number retries with the next one, so concurrent
    /// publishers never overwrite each other. The model directory is created if needed.
    @discardableResult
    public func publish(name: String, validate: Bool = true, build: (URL) throws -> Void) throws -> Int {
        let dir = try directory(of: name)
        try createDirectory(dir)
        var config: ModelConfig?
        if validate, FileManager.default.fileExists(atPath: dir.appendingPathComponent(Self.configFileName).path) {
            config = try self.config(of: name)
        }
        let published = try wrapIO {
            try AtomicFile.publishDirectory(in: dir, build: { tmp in
                try build(tmp)
                if validate {
                    _ = try Self.readVersionContents(tmp, config: config) { .invalidBuild(model: name, message: $0) }
                }
            }, name: { _ in String(try nextVersion(of: name)) })
        }
        return Self.parseVersion(published.lastPathComponent)!
    }

    /// Publishes a trained model with its evaluation results and recipe (each
    /// must encode to a JSON object) as the next version.
    @discardableResult
    public func publish<Metrics: Encodable, Recipe: Encodable>(name: String, model: GraphModel, metrics: Metrics, recipe: Recipe) throws -> Int {
        try publish(name: name) { dir in
            try model.save(to: dir)
            try JSONFile.write(metrics, to: dir.appendingPathComponent(Self.metricsFileName))
            try JSONFile.write(recipe, to: dir.appendingPathComponent(Self.recipeFileName))
        }
    }

    /// One more than the highest integer name in the model directory, counting
    /// every entry (a stray file named "7" must not be renamed onto).
    func nextVersion(of name: String) throws -> Int {
        let dir = try directory(of: name)
        let taken = try entries(of: dir, what: "model '\(name)'").compactMap { Self.parseVersion($0) }
        return (taken.max() ?? 0) + 1
    }

    /// Removes temporary directories and files that a crashed publisher or writer
    /// left (hidden ".tmp-publish-*" directories and ".*.tmp-*" files in the model
    /// directories) older than `age` seconds. Returns what it removed. Call at start-up.
    @discardableResult
    public func removeStaleTemporaries(olderThan age: TimeInterval = 3600, now: Date = Date()) -> [URL] {
        var removed: [URL] = []
        let fm = FileManager.default
        for name in (try? modelNames()) ?? [] {
            let dir = root.appendingPathComponent(name)
            for entry in (try? fm.contentsOfDirectory(atPath: dir.path)) ?? []
            where entry.hasPrefix(".tmp-publish-") || (entry.hasPrefix(".") && entry.contains(".tmp-")) {
                let url = dir.appendingPathComponent(entry)
                guard let modified = (try? fm.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date,
                      now.timeIntervalSince(modified) > age else { continue }
                if (try? fm.removeItem(at: url)) != nil { removed.append(url) }
            }
        }
        return removed
    }
}
