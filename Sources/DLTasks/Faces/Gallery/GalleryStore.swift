import DLServing
import Foundation
import GRDB

/// The face galleries on disk: one SQLite file (WAL, synchronous FULL, so an
/// acknowledged enrollment survives SIGKILL) under the state directory.
///
///     identities  (id, model, name, created_at)       UNIQUE (model, name)
///     photos      (id, identity_id, image, media_type) the enrollment photos, kept for re-embedding
///     embeddings  (identity_id, version, vector)       the identity's template per model version
///     versions    (model, version)                     the version identify answers from
///
/// Photos and embeddings go with their identity (ON DELETE CASCADE).
package final class GalleryStore: @unchecked Sendable {
    package let pool: DatabasePool

    package struct Identity: Sendable, Equatable {
        package var id: Int64
        package var name: String
        package var photos: Int
        package var createdAt: Date
    }

    package init(path: URL) throws {
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.foreignKeysEnabled = true
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        do {
            try FileManager.default.createDirectory(at: path.deletingLastPathComponent(), withIntermediateDirectories: true)
            pool = try DatabasePool(path: path.path, configuration: config)
            try Self.migrator.migrate(pool)
        } catch {
            throw ServingError.unavailable("face gallery: cannot open \(path.path): \(error)")
        }
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1: face galleries") { db in
            try db.execute(sql: """
                CREATE TABLE identities (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    model TEXT NOT NULL,
                    name TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    UNIQUE (model, name)
                );
                CREATE TABLE photos (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    identity_id INTEGER NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
                    image BLOB NOT NULL,
                    media_type TEXT NOT NULL
                );
                CREATE INDEX photos_identity ON photos(identity_id);
                CREATE TABLE embeddings (
                    identity_id INTEGER NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
                    version INTEGER NOT NULL,
                    vector BLOB NOT NULL,
                    PRIMARY KEY (identity_id, version)
                );
                CREATE TABLE versions (model TEXT PRIMARY KEY NOT NULL, version INTEGER NOT NULL);
                """)
        }
        return m
    }

    func wrap<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as ServingError { throw e } catch {
            throw ServingError.unavailable("face gallery storage: \(error)")
        }
    }

    // MARK: Writes

    /// Adds an identity with its photos and its template for `version`, in one transaction.
    /// A name the model's gallery has already is `ServingError.conflict`.
    package func enroll(model: String, name: String, photos: [(Data, String)], version: Int, template: [Float], now: Date = Date()) throws -> Identity {
        try wrap {
            try pool.write { db in
                if try Int64.fetchOne(db, sql: "SELECT id FROM identities WHERE model = ? AND name = ?", arguments: [model, name]) != nil {
                    throw ServingError.conflict("identity '\(name)' is already enrolled in model '\(model)'s gallery")
                }
                try db.execute(sql: "INSERT INTO identities (model, name, created_at) VALUES (?, ?, ?)",
                               arguments: [model, name, now.timeIntervalSinceReferenceDate])
                let id = db.lastInsertedRowID
                for (bytes, mediaType) in photos {
                    try db.execute(sql: "INSERT INTO photos (identity_id, image, media_type) VALUES (?, ?, ?)",
                                   arguments: [id, bytes, mediaType])
                }
                try db.execute(sql: "INSERT INTO embeddings (identity_id, version, vector) VALUES (?, ?, ?)",
                               arguments: [id, version, Self.blob(template)])
                try db.execute(sql: "INSERT OR IGNORE INTO versions (model, version) VALUES (?, ?)", arguments: [model, version])
                return Identity(id: id, name: name, photos: photos.count, createdAt: now)
            }
        }
    }

    /// Removes an identity (its photos and templates with it); false when there is none.
    package func delete(model: String, id: Int64) throws -> Bool {
        try wrap {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM identities WHERE model = ? AND id = ?", arguments: [model, id])
                return db.changesCount > 0
            }
        }
    }

    /// Stores templates for `version` (re-embedding).
    package func storeTemplates(_ templates: [(Int64, [Float])], version: Int) throws {
        try wrap {
            try pool.write { db in
                for (id, t) in templates {
                    try db.execute(sql: "INSERT OR REPLACE INTO embeddings (identity_id, version, vector) SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM identities WHERE id = ?)",
                                   arguments: [id, version, Self.blob(t), id])
                }
            }
        }
    }

    /// Makes `version` the one identify answers from and drops the model's other templates.
    package func activate(model: String, version: Int) throws {
        try wrap {
            try pool.write { db in
                try db.execute(sql: "INSERT OR REPLACE INTO versions (model, version) VALUES (?, ?)", arguments: [model, version])
                try db.execute(sql: "DELETE FROM embeddings WHERE version != ? AND identity_id IN (SELECT id FROM identities WHERE model = ?)",
                               arguments: [version, model])
            }
        }
    }

    // MARK: Reads

    /// The version each model's gallery answers from.
    package func activeVersions() throws -> [String: Int] {
        try wrap {
            try pool.read { db in
                Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT model, version FROM versions").map {
                    (try Self.column($0, "model") as String, try Self.column($0, "version") as Int)
                })
            }
        }
    }

    /// Every identity of the model with its template for `version` (nil when it has none yet), by id.
    package func templates(model: String, version: Int) throws -> [(id: Int64, name: String, vector: [Float]?)] {
        try wrap {
            try pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT i.id, i.name, e.vector FROM identities i
                    LEFT JOIN embeddings e ON e.identity_id = i.id AND e.version = ?
                    WHERE i.model = ? ORDER BY i.id
                    """, arguments: [version, model]).map { row in
                    let blob: Data? = try Self.column(row, "vector")
                    return (try Self.column(row, "id"), try Self.column(row, "name"), blob.map(Self.floats))
                }
            }
        }
    }

    package func photos(of id: Int64) throws -> [(Data, String)] {
        try wrap {
            try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT image, media_type FROM photos WHERE identity_id = ? ORDER BY id", arguments: [id])
                    .map { (try Self.column($0, "image"), try Self.column($0, "media_type")) }
            }
        }
    }

    package func identity(model: String, id: Int64) throws -> Identity? {
        try wrap {
            try pool.read { db in
                try Row.fetchOne(db, sql: """
                    SELECT i.id, i.name, i.created_at, (SELECT COUNT(*) FROM photos p WHERE p.identity_id = i.id) AS photos
                    FROM identities i WHERE i.model = ? AND i.id = ?
                    """, arguments: [model, id]).map { try Self.identity($0) }
            }
        }
    }

    /// A page of the model's identities by ascending id, after `after`, the
    /// total, and whether another page follows (one row more is read to know).
    package func list(model: String, after: Int64?, limit: Int) throws -> (identities: [Identity], total: Int, more: Bool) {
        try wrap {
            try pool.read { db in
                let rows = try Row.fetchAll(db, sql: """
                    SELECT i.id, i.name, i.created_at, (SELECT COUNT(*) FROM photos p WHERE p.identity_id = i.id) AS photos
                    FROM identities i WHERE i.model = ? AND i.id > ? ORDER BY i.id LIMIT ?
                    """, arguments: [model, after ?? 0, limit + 1])
                let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM identities WHERE model = ?", arguments: [model]) ?? 0
                return (try rows.prefix(limit).map { try Self.identity($0) }, total, rows.count > limit)
            }
        }
    }

    static func identity(_ row: Row) throws -> Identity {
        Identity(id: try column(row, "id"), name: try column(row, "name"), photos: try column(row, "photos"),
                 createdAt: Date(timeIntervalSinceReferenceDate: try column(row, "created_at")))
    }

    /// A column's value; one of the wrong type (a damaged or hand-edited file)
    /// is a 503 naming it, not a crash.
    static func column<T: DatabaseValueConvertible>(_ row: Row, _ name: String) throws -> T {
        do {
            return try row.decode(T.self, forColumn: name)
        } catch {
            throw ServingError.unavailable("face gallery storage: a stored '\(name)' is corrupt: \(error)")
        }
    }

    static func blob(_ v: [Float]) -> Data { v.withUnsafeBufferPointer { Data(buffer: $0) } }

    /// The floats of a stored vector (little-endian, as `blob` writes them;
    /// any alignment, trailing bytes ignored).
    static func floats(_ d: Data) -> [Float] {
        d.withUnsafeBytes { raw in
            (0..<(raw.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }
}
