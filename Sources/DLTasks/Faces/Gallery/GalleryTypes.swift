import Foundation

/// The JSON answers of the gallery endpoints.
enum GalleryReply {
    struct Identity: Codable, Sendable, Equatable {
        var id: Int64
        var name: String
        var photos: Int
        var createdAt: String
        enum CodingKeys: String, CodingKey { case id, name, photos, createdAt = "created_at" }

        init(_ i: GalleryStore.Identity) {
            (id, name, photos) = (i.id, i.name, i.photos)
            createdAt = ISO8601DateFormatter().string(from: i.createdAt)
        }
    }

    struct Enrolled: Codable, Sendable, Equatable {
        var model: String
        var version: Int
        var identity: Identity
    }

    struct Page: Codable, Sendable, Equatable {
        var model: String
        var total: Int
        var identities: [Identity]
        /// Pass as `after` for the next page; absent on the last.
        var nextAfter: Int64?
        enum CodingKeys: String, CodingKey { case model, total, identities, nextAfter = "next_after" }
    }

    struct Deleted: Codable, Sendable, Equatable {
        var model: String
        var id: Int64
        var deleted: Bool
    }

    struct Match: Codable, Sendable, Equatable {
        var id: Int64
        var name: String
        var distance: Float
        var same: Bool
    }

    struct Identified: Codable, Sendable, Equatable {
        var model: String
        /// The version the gallery's templates and this photo's embedding come from.
        var version: Int
        var tau: Double
        var metric: String
        var gallerySize: Int
        /// The nearest identity when it is within tau; absent when unknown.
        var identity: Match?
        var unknown: Bool
        /// The nearest identities, nearest first (top_k).
        var matches: [Match]
        enum CodingKeys: String, CodingKey {
            case model, version, tau, metric, identity, unknown, matches
            case gallerySize = "gallery_size"
        }
    }
}
