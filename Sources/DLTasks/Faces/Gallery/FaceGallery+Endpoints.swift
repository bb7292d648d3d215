import DLServing
import Foundation

/// The gallery's HTTP surface (thin: read the body, call the operation):
///
///     POST   /v1/models/{name}/identities        enroll: a name and one or more photos   (token)
///     GET    /v1/models/{name}/identities        a page: ?limit=1..1000 (100) &after=ID
///     GET    /v1/models/{name}/identities/{id}   one identity
///     DELETE /v1/models/{name}/identities/{id}   remove it                                (token)
///     POST   /v1/models/{name}/identify          a photo's nearest identities: ?top_k=1..100 (5)
///
/// Enrollment bodies: JSON `{"name": "Ada", "image": base64}` or `{"name":
/// "Ada", "images": [base64, ...]}`, or multipart/form-data with a `name`
/// field and one or more files. Identify takes what `embed` takes for one photo.
extension FaceGallery {
    public var endpoints: [TaskEndpoint] {
        [
            TaskEndpoint(.post, "identities", changesState: true) { r in
                let read = try FaceImages(r.body)
                guard let name = read.fields["name"] else { throw ServingError.badRequest("enrollment needs a 'name'") }
                let photos = try read.photos.map { try Self.bytes($0.input) }
                return EndpointReply(status: 201, try await self.enroll(model: r.model, name: name, photos: photos))
            },
            TaskEndpoint(.get, "identities", changesState: false) { r in
                let limit = try Self.integer(r.body.query["limit"], name: "limit", in: 1...1000) ?? 100
                let after = try Self.integer(r.body.query["after"], name: "after", in: 0...Int.max).map(Int64.init)
                return EndpointReply(try await self.list(model: r.model, after: after, limit: limit))
            },
            TaskEndpoint(.get, "identities/:id", changesState: false) { r in
                EndpointReply(try await self.show(model: r.model, id: try Self.id(r)))
            },
            TaskEndpoint(.delete, "identities/:id", changesState: true) { r in
                EndpointReply(try await self.delete(model: r.model, id: try Self.id(r)))
            },
            TaskEndpoint(.post, "identify", changesState: false) { r in
                let read = try FaceImages(r.body)
                guard read.photos.count == 1 else {
                    throw ServingError.badRequest("identify takes exactly one photo, got \(read.photos.count)")
                }
                let topK = try Self.integer(r.body.query["top_k"] ?? read.fields["top_k"], name: "top_k", in: 1...Self.maxTopK) ?? 5
                return EndpointReply(try await self.identify(model: r.model, photo: try Self.bytes(read.photos[0].input), topK: topK))
            },
        ]
    }

    static func bytes(_ input: ImageInput) throws -> (Data, String) {
        guard case .encoded(let data, let mediaType) = input else { throw ServingError.badRequest("a photo must be PNG or JPEG bytes") }
        return (data, mediaType ?? "image/png")
    }

    static func integer(_ raw: String?, name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let raw else { return nil }
        guard let v = Int(raw), range.contains(v) else {
            throw ServingError.badRequest("\(name) must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(raw)'")
        }
        return v
    }

    static func id(_ r: EndpointRequest) throws -> Int64 {
        guard let raw = r.parameters["id"], let id = Int64(raw), id > 0 else {
            throw ServingError.badRequest("identity id must be a positive integer, got '\(r.parameters["id"] ?? "")'")
        }
        return id
    }
}
