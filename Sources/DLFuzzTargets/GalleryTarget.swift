import DLNN
import DLTasks
import Foundation
import GRDB

/// The face gallery's stored records as the daemon reads them back: rows of a
/// real gallery file whose columns hold whatever a damaged or hand-edited file
/// could (wrong types, NULLs, short or odd-sized vectors, NaNs), read by the
/// store's queries and loaded into a search index, which then answers a query.
enum GalleryTarget {
    /// In memory (/dev/shm) where there is one: the store fsyncs every commit.
    static let directory: URL = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? URL(fileURLWithPath: "/dev/shm") : FileManager.default.temporaryDirectory
        return base.appendingPathComponent("dlserve-fuzz-gallery-\(getpid())")
    }()
    nonisolated(unsafe) static let store: GalleryStore = {
        atexit { try? FileManager.default.removeItem(at: GalleryTarget.directory) }
        return try! GalleryStore(path: directory.appendingPathComponent("gallery.sqlite"))
    }()
    static let verification = [
        VerificationFile(dim: 16, tau: 1.0),
        VerificationFile(dim: 3, tau: 0.5),
        VerificationFile(dim: 4, metric: .pairClassifier, tau: 0.5, weights: [1, -1, 0.5, 2], bias: 0.1),
    ]

    /// One SQLite value from the input: a type byte, a length byte, the bytes.
    static func value(_ input: inout FuzzInput) -> DatabaseValue {
        let kind = input.choose(5)
        let n = Int(input.byte())
        var raw: [UInt8] = []
        for _ in 0..<n { raw.append(input.byte()) }
        switch kind {
        case 0: return .null
        case 1: return Int64(raw.reduce(0) { $0 &* 256 &+ Int($1) }).databaseValue
        case 2: return Double(bitPattern: UInt64(raw.reduce(0) { $0 &* 256 &+ UInt64($1) })).databaseValue
        case 3: return String(decoding: raw, as: UTF8.self).databaseValue
        default: return Data(raw).databaseValue
        }
    }

    /// `INDEX_KIND | name | created_at | image | media_type | version | vector | (more rows...)`.
    static let records = FuzzTarget("gallery-record", "the face gallery's stored rows read back and searched") { bytes in
        var input = FuzzInput(bytes)
        let verification = verification[input.choose(verification.count)]
        let version = 1
        do {
            try store.pool.write { db in
                for table in ["embeddings", "photos", "identities", "versions"] { try db.execute(sql: "DELETE FROM \(table)") }
                while !input.rest.isEmpty {
                    let (name, created, image, mediaType, v, vector) =
                        (value(&input), value(&input), value(&input), value(&input), value(&input), value(&input))
                    try db.execute(sql: "INSERT INTO identities (model, name, created_at) VALUES ('m', ?, ?)", arguments: [name, created])
                    let id = db.lastInsertedRowID
                    try db.execute(sql: "INSERT INTO photos (identity_id, image, media_type) VALUES (?, ?, ?)", arguments: [id, image, mediaType])
                    try db.execute(sql: "INSERT INTO embeddings (identity_id, version, vector) VALUES (?, ?, ?)", arguments: [id, v, vector])
                }
            }
        } catch {
            return false  // a row the schema refuses (NOT NULL, UNIQUE) never gets stored
        }
        guard let page = try? store.list(model: "m", after: nil, limit: 100) else { return false }
        for identity in page.identities {
            _ = try? store.identity(model: "m", id: identity.id)
            _ = try? store.photos(of: identity.id)
        }
        guard let templates = try? store.templates(model: "m", version: version) else { return false }
        var index = GalleryIndex(version: version, verification: verification)
        index.add(stored: templates)
        _ = index.nearest([Float](repeating: 0.25, count: verification.dim), k: 3)
        if let first = templates.first { index.remove(id: first.id) }
        _ = index.nearest([Float](repeating: -0.5, count: verification.dim), k: 1)
        return true
    }
}
