import DLServe
import DLServing
import DLTasks
import Hummingbird  // ByteBuffer

/// Request bodies as the daemon reads them, before any model runs.
enum RequestTargets {
    /// KServe V2 infer: `HEADER_LENGTH (2 bytes) | JSON | binary tensors`; a
    /// length of 0xFFFF means no binary extension (the whole rest is JSON).
    static let v2Infer = FuzzTarget("v2-infer", "KServe V2 infer bodies: JSON tensors and the binary extension") { bytes in
        var input = FuzzInput(bytes)
        let length = input.uint16()
        let rest = input.rest
        let split = length == 0xFFFF ? rest.count : min(length, rest.count)
        return (try? V2InferRequest.parse(json: ByteBuffer(bytes: rest[..<split]), binary: ByteBuffer(bytes: rest[split...]))) != nil
    }

    /// Every served task's body reader (classify, detect, verify, embed,
    /// sentiment, translate, the word-vector tasks) and the gallery's
    /// (enroll, identify), with multipart forms and JSON of every shape:
    /// `TASK (1 byte) | Content-Type \n | query (a=1&b=2) \n | body`.
    static let taskBody = FuzzTarget("task-body", "every task's request body with its Content-Type and query") { bytes in
        var input = FuzzInput(bytes)
        let choice = input.choose(ServedTasks.all.count + 1)
        let contentType = input.prefix(upTo: [10]).map { String(decoding: $0, as: UTF8.self) }
        let queryLine = input.prefix(upTo: [10]).map { String(decoding: $0, as: UTF8.self) } ?? ""
        var query: [String: String] = [:]
        for pair in queryLine.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            query[String(kv[0])] = kv.count > 1 ? String(kv[1]) : ""
        }
        let parsed = TaskBody.parseContentType(contentType)
        let body = TaskBody(bytes: input.rest, mediaType: parsed.mediaType, query: query, mediaTypeParameters: parsed.parameters)
        if choice == ServedTasks.all.count { return (try? FaceImages(body)) != nil }
        return decode(ServedTasks.all[choice], body)
    }

    private static func decode<T: ServingTask>(_ task: T, _ body: TaskBody) -> Bool {
        (try? T.decode(body)) != nil
    }
}
