import DLNN
import DLServing
import DLVision
import Foundation

/// The face galleries of embedding models: people enrolled by name with one
/// or more photos (one-shot enrollment works with one), listed, shown and
/// deleted, and identified: a photo's nearest identities, or `unknown` when
/// the nearest is past the version's tau. Stored in SQLite under the state
/// directory (`GalleryStore`) and searched in memory (`GalleryIndex`).
///
/// A gallery's templates belong to the model version that made them. When
/// the daemon starts serving another version, the gallery re-embeds every
/// stored enrollment photo with it in the background and switches when all
/// are done; until then identify answers from the old version (with the
/// gallery's own copy of it, `GalleryModel`).
public final class FaceGallery: EndpointProvider, @unchecked Sendable {
    let store: GalleryStore
    let repository: ModelRepository
    let performer: any TaskPerformer
    let decoder: ImageDecoder
    let pollInterval: Duration
    private let lock = NSLock()
    private var galleries: [String: (model: GalleryModel, index: GalleryIndex)] = [:]
    private var reembedding: [String: Int] = [:]
    private var poller: Task<Void, Never>?

    public static let fileName = "faces/gallery.sqlite"
    public static let maxTopK = 100

    public init(stateDirectory: URL, repository: ModelRepository, performer: any TaskPerformer,
                decoder: ImageDecoder = ImageDecoder(), pollInterval: Duration = .seconds(1)) throws {
        store = try GalleryStore(path: stateDirectory.appendingPathComponent(Self.fileName))
        (self.repository, self.performer, self.decoder, self.pollInterval) = (repository, performer, decoder, pollInterval)
    }

    /// Starts watching for new serving versions (re-embedding).
    public func start() {
        lock.withLock {
            guard poller == nil else { return }
            poller = Task { [weak self, pollInterval] in
                while !Task.isCancelled {
                    await self?.refresh()
                    try? await Task.sleep(for: pollInterval)
                }
            }
        }
    }

    public func stop() {
        lock.withLock { poller?.cancel(); poller = nil }
    }

    // MARK: Versions

    /// The version the daemon serves for `model` (checking it is an embedding model).
    func servingVersion(_ model: String) async throws -> Int {
        guard let status = await performer.models().first(where: { $0.name == model }) else { throw ServingError.unknownModel(model) }
        if let task = status.task, task != FaceEmbedding.modelTask {
            throw ServingError.unsupportedTask(model: model, task: task, operation: "the face gallery")
        }
        guard let v = status.defaultVersion else { throw ServingError.modelNotReady(model: model, reason: "no version is ready") }
        return v
    }

    /// The model's gallery, loaded from the store on first use (its active
    /// version, or the serving one for a new gallery).
    func gallery(_ model: String) async throws -> (model: GalleryModel, index: GalleryIndex) {
        if let g = lock.withLock({ galleries[model] }) { return g }
        let serving = try await servingVersion(model)
        let version = try store.activeVersions()[model] ?? serving
        let loaded = try GalleryModel(repository: repository, name: model, version: version, decoder: decoder)
        var index = GalleryIndex(version: version, verification: loaded.verification)
        try fill(&index, model: model, with: loaded)
        return lock.withLock {
            if let g = galleries[model] { return g }
            galleries[model] = (loaded, index)
            return (loaded, index)
        }
    }

    /// Puts every identity's template for the index's version into it,
    /// embedding (and storing) those that have none yet.
    private func fill(_ index: inout GalleryIndex, model: String, with loaded: GalleryModel) throws {
        try storeMissingTemplates(model: model, with: loaded)
        index.add(stored: try store.templates(model: model, version: index.version))
    }

    /// Embeds and stores the template, for `loaded`'s version, of every identity that has none.
    private func storeMissingTemplates(model: String, with loaded: GalleryModel) throws {
        var missing: [(Int64, [Float])] = []
        for t in try store.templates(model: model, version: loaded.version) where t.vector?.count != loaded.verification.dim {
            let photos = try store.photos(of: t.id).map { ($0.0, Optional($0.1)) }
            guard !photos.isEmpty else { continue }
            missing.append((t.id, loaded.verification.mean(try loaded.embed(photos))))
        }
        if !missing.isEmpty { try store.storeTemplates(missing, version: loaded.version) }
    }

    /// One look at the serving versions: a gallery whose model now serves
    /// another version starts re-embedding into it.
    public func refresh() async {
        guard let active = try? store.activeVersions(), !active.isEmpty else { return }
        for status in await performer.models() {
            guard let from = active[status.name], let to = status.defaultVersion, to != from else { continue }
            let start = lock.withLock { () -> Bool in
                guard reembedding[status.name] == nil else { return false }
                reembedding[status.name] = to
                return true
            }
            if start {
                Task.detached { [self] in
                    try? self.reembed(status.name, into: to)
                    self.lock.withLock { self.reembedding[status.name] = nil }
                }
            }
        }
    }

    /// Embeds every identity's photos with `version`, then switches the gallery to it.
    func reembed(_ model: String, into version: Int) throws {
        let loaded = try GalleryModel(repository: repository, name: model, version: version, decoder: decoder)
        try storeMissingTemplates(model: model, with: loaded)
        try lock.withLock {
            // Enrollments made meanwhile went to the old version's templates: `fill` embeds those too.
            var fresh = GalleryIndex(version: version, verification: loaded.verification)
            try fill(&fresh, model: model, with: loaded)
            try store.activate(model: model, version: version)
            galleries[model] = (loaded, fresh)
        }
    }

    /// The version each gallery answers from, and the one it is re-embedding into.
    public func status(_ model: String) -> (active: Int?, reembedding: Int?) {
        lock.withLock { (galleries[model]?.index.version ?? (try? store.activeVersions()[model]) ?? nil, reembedding[model]) }
    }

    // MARK: Operations

    func enroll(model: String, name: String, photos: [(Data, String)]) async throws -> GalleryReply.Enrolled {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...200).contains(trimmed.count), !trimmed.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) }) else {
            throw ServingError.badRequest("'name' must be 1 to 200 printable characters")
        }
        guard !photos.isEmpty else { throw ServingError.badRequest("enrollment needs at least one photo ('image', 'images' or multipart files)") }
        while true {
            let g = try await gallery(model)
            let template = g.index.verification.mean(try g.model.embed(photos.map { ($0.0, Optional($0.1)) }))
            let done: GalleryReply.Enrolled? = try lock.withLock {
                // The gallery switched versions while embedding: embed again with the new one.
                guard galleries[model]?.model.version == g.model.version else { return nil }
                let identity = try store.enroll(model: model, name: trimmed, photos: photos, version: g.model.version, template: template)
                galleries[model]!.index.add(id: identity.id, name: identity.name, vector: template)
                return GalleryReply.Enrolled(model: model, version: g.model.version, identity: .init(identity))
            }
            if let done { return done }
        }
    }

    func list(model: String, after: Int64?, limit: Int) async throws -> GalleryReply.Page {
        _ = try await servingVersion(model)
        let (identities, total, more) = try store.list(model: model, after: after, limit: limit)
        return GalleryReply.Page(model: model, total: total, identities: identities.map(GalleryReply.Identity.init),
                                 nextAfter: more ? identities.last?.id : nil)
    }

    func show(model: String, id: Int64) async throws -> GalleryReply.Identity {
        _ = try await servingVersion(model)
        guard let i = try store.identity(model: model, id: id) else {
            throw ServingError.notFound("no identity \(id) in model '\(model)'s gallery")
        }
        return .init(i)
    }

    func delete(model: String, id: Int64) async throws -> GalleryReply.Deleted {
        _ = try await servingVersion(model)
        let removed = try lock.withLock { () -> Bool in
            let removed = try store.delete(model: model, id: id)
            if removed { galleries[model]?.index.remove(id: id) }
            return removed
        }
        guard removed else { throw ServingError.notFound("no identity \(id) in model '\(model)'s gallery") }
        return .init(model: model, id: id, deleted: true)
    }

    func identify(model: String, photo: (Data, String), topK: Int) async throws -> GalleryReply.Identified {
        let g = try await gallery(model)
        let query = try g.model.embed([(photo.0, Optional(photo.1))])[0]
        let (version, found, size) = lock.withLock { () -> (Int, [(id: Int64, name: String, distance: Float)], Int) in
            // Search the index of the version that embedded the query (a switch may have happened since).
            guard galleries[model]?.model.version == g.model.version else { return (g.model.version, [], -1) }
            return (g.model.version, galleries[model]!.index.nearest(query, k: topK), galleries[model]!.index.count)
        }
        if size < 0 { return try await identify(model: model, photo: photo, topK: topK) }
        let tau = g.index.verification.tau
        let matches = found.map { GalleryReply.Match(id: $0.id, name: $0.name, distance: $0.distance, same: Double($0.distance) < tau) }
        let best = matches.first.flatMap { $0.same ? $0 : nil }
        return .init(model: model, version: version, tau: tau, metric: g.index.verification.metric.rawValue, gallerySize: size,
                     identity: best, unknown: best == nil, matches: matches)
    }
}
