import Foundation

/// A version of a model, loaded and validated, ready to serve.
public struct LoadedModel: Sendable {
    public var name: String
    public var version: Int
    public var directory: URL
    public var config: ModelConfig
    public var model: GraphModel
    /// metrics.json (evaluation results), when present.
    public var metrics: JSONValue?
    /// recipe.json (how the version was trained), when present.
    public var recipe: JSONValue?
}

/// The on-disk model repository that the daemon serves and the job queue writes:
///
///     ROOT/NAME/config.json            ModelConfig: task, labels, input, serving
///     ROOT/NAME/VERSION/model.json     architecture (ModelSpec)
///     ROOT/NAME/VERSION/weights.safetensors
///     ROOT/NAME/VERSION/metrics.json   evaluation results (optional when loading)
///     ROOT/NAME/VERSION/recipe.json    the recipe that produced it (optional when loading)
///
/// VERSION is a positive integer written without leading zeros. Hidden entries
/// (".tmp-publish-..." directories of publishers in progress) and other names
/// are ignored. New versions appear only through `publish`, in one rename, so a
/// reader never sees a half-written version.
///
/// The type holds only the root path; every call reads the disk afresh, so one
/// value can be shared between threads.
public struct ModelRepository: Sendable {
    public let root: URL

    public static let configFileName = "config.json"
    public static let metricsFileName = "metrics.json"
    public static let recipeFileName = "recipe.json"

    public init(root: URL) {
        self.root = root
    }

    /// `[A-Za-z0-9][A-Za-z0-9._-]*`, at most 128 characters: safe as a path
    /// component and in a URL, never "." or "..".
    public static func isValidName(_ name: String) -> Bool {
        let ok = name.utf8.enumerated().allSatisfy { i, c in
            let alnum = (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c)
            return alnum || (i > 0 && (c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")))
        }
        return ok && !name.isEmpty && name.utf8.count <= 128
    }

    /// A version directory name: a positive integer without sign or leading zeros.
    public static func parseVersion(_ s: String) -> Int? {
        guard let first = s.utf8.first, first != UInt8(ascii: "0"), s.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
              let v = Int(s) else { return nil }
        return v
    }

    /// The directory of a model. Throws `invalidName` for names that could escape the root.
    public func directory(of name: String) throws -> URL {
        guard Self.isValidName(name) else { throw RepositoryError.invalidName(name) }
        return root.appendingPathComponent(name, isDirectory: true)
    }

    public func directory(of name: String, version: Int) throws -> URL {
        try directory(of: name).appendingPathComponent(String(version), isDirectory: true)
    }

    /// Names of the model directories, sorted. A missing root is an error.
    public func modelNames() throws -> [String] {
        try entries(of: root, what: "model repository")
            .filter { Self.isValidName($0) && isDirectory(root.appendingPathComponent($0)) }
            .sorted()
    }

    /// The versions on disk, ascending (whether or not they load).
    public func versions(of name: String) throws -> [Int] {
        let dir = try existingModelDirectory(name)
        return try entries(of: dir, what: "model '\(name)'")
            .compactMap { Self.parseVersion($0) }
            .filter { isDirectory(dir.appendingPathComponent(String($0))) }
            .sorted()
    }

    /// Reads and validates config.json. Its `name` must equal the directory name.
    public func config(of name: String) throws -> ModelConfig {
        let url = try existingModelDirectory(name).appendingPathComponent(Self.configFileName)
        let config: ModelConfig
        do {
            config = try JSONFile.decode(ModelConfig.self, from: url, maxBytes: 4 << 20)
        } catch let e as JSONFile.DecodeError {
            throw RepositoryError.badConfig(model: name, message: e.message)
        } catch let e as ModelError {
            throw RepositoryError.badConfig(model: name, message: FileManager.default.fileExists(atPath: url.path) ? "\(e)" : "config.json is missing")
        }
        try config.validate()
        guard config.name == name else {
            throw RepositoryError.badConfig(model: name, message: "field 'name' is '\(config.name)' but the directory is '\(name)'")
        }
        return config
    }

    /// Validates and writes config.json atomically, creating the model directory if needed.
    public func writeConfig(_ config: ModelConfig) throws {
        try config.validate()
        let dir = try directory(of: config.name)
        try createDirectory(dir)
        try wrapIO { try JSONFile.write(config, to: dir.appendingPathComponent(Self.configFileName)) }
    }

    /// Loads one version: architecture, weights (every tensor checked), metrics and
    /// recipe, checked against the config (`ModelConfig.mismatch`). Pass `config`
    /// to skip re-reading config.json.
    public func load(_ name: String, version: Int, config: ModelConfig? = nil) throws -> LoadedModel {
        let config = try config ?? self.config(of: name)
        let dir = try directory(of: name, version: version)
        guard isDirectory(dir) else { throw RepositoryError.versionNotFound(model: name, version: version) }
        func invalid(_ m: String) -> RepositoryError { .invalidVersion(model: name, version: version, message: m) }
        let contents = try Self.readVersionContents(dir, config: config, fail: invalid)
        return LoadedModel(name: name, version: version, directory: dir, config: config, model: contents.model,
                           metrics: contents.metrics, recipe: contents.recipe)
    }

    /// Loads the highest version that loads, among those the version policy selects,
    /// and reports the higher versions that failed (for the model's status).
    public func loadLatestValid(_ name: String) throws -> (model: LoadedModel, skipped: [VersionFailure]) {
        let config = try config(of: name)
        let candidates = config.serving.versionPolicy.candidates(try versions(of: name))
        guard !candidates.isEmpty else { throw RepositoryError.noVersions(model: name) }
        var failures: [VersionFailure] = []
        for v in candidates {
            do {
                return (try load(name, version: v, config: config), failures)
            } catch RepositoryError.invalidVersion(_, _, let message) {
                failures.append(VersionFailure(version: v, message: message))
            } catch RepositoryError.versionNotFound {
                failures.append(VersionFailure(version: v, message: "removed while loading"))
            }
        }
        throw RepositoryError.noValidVersion(model: name, failures: failures)
    }

    /// The number of the version `loadLatestValid` would serve.
    public func latestValidVersion(of name: String) throws -> Int {
        try loadLatestValid(name).model.version
    }

    // MARK: Internals shared with publish

    static func readVersionContents(_ dir: URL, config: ModelConfig?, fail: (String) -> RepositoryError) throws
        -> (model: GraphModel, metrics: JSONValue?, recipe: JSONValue?)
    {
        let model: GraphModel
        do {
            model = try GraphModel.load(from: dir)
        } catch let e as ModelError {
            throw fail(e.description)
        }
        if let config, let m = config.mismatch(with: model) { throw fail(m) }
        func optionalObject(_ file: String) throws -> JSONValue? {
            let url = dir.appendingPathComponent(file)
            guard FileManager.default.fileExists(atPath: url.path) else { return nil }
            do {
                let v = try JSONFile.decode(JSONValue.self, from: url)
                guard case .object = v else { throw fail("\(file) must be a JSON object") }
                return v
            } catch let e as JSONFile.DecodeError {
                throw fail("\(file): \(e.message)")
            } catch let e as ModelError {
                throw fail(e.description)
            }
        }
        return (model, try optionalObject(metricsFileName), try optionalObject(recipeFileName))
    }

    func existingModelDirectory(_ name: String) throws -> URL {
        let dir = try directory(of: name)
        guard isDirectory(dir) else { throw RepositoryError.unknownModel(name) }
        return dir
    }

    func entries(of dir: URL, what: String) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { !$0.hasPrefix(".") }
        } catch {
            throw RepositoryError.io("cannot list \(what) at \(dir.path): \(error.localizedDescription)")
        }
    }

    func isDirectory(_ url: URL) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) && isDir.boolValue
    }

    func createDirectory(_ url: URL) throws {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw RepositoryError.io("cannot create \(url.path): \(error.localizedDescription)")
        }
    }

    func wrapIO<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as ModelError { throw RepositoryError.io(e.description) }
    }
}
