import DLTrain
import Foundation

/// What an event reports. A client following a job sees one `state` event per
/// change of state, `progress` events while it trains and one `epoch` event
/// per completed epoch.
public enum JobEventKind: String, Codable, Sendable {
    case state, progress, epoch
}

/// One entry of a job's event log (the payload of a Server-Sent Event).
public struct JobEvent: Codable, Equatable, Sendable {
    public var kind: JobEventKind
    public var state: JobState
    public var progress: JobProgress?
    public var metrics: EpochMetrics?
    public var result: JobResult?
    public var error: String?
    /// A human-readable note ("resumed from the checkpoint of epoch 2").
    public var message: String?

    public init(kind: JobEventKind, state: JobState, progress: JobProgress? = nil, metrics: EpochMetrics? = nil,
                result: JobResult? = nil, error: String? = nil, message: String? = nil) {
        self.kind = kind
        self.state = state
        self.progress = progress
        self.metrics = metrics
        self.result = result
        self.error = error
        self.message = message
    }
}

/// A stored event: `seq` increases by one per event of the same job,
/// starting at 1, so it serves as the SSE id and Last-Event-ID resumes after it.
public struct JobEventRecord: Equatable, Sendable {
    public var jobID: JobID
    public var seq: Int64
    public var time: Date
    public var event: JobEvent

    public init(jobID: JobID, seq: Int64, time: Date, event: JobEvent) {
        self.jobID = jobID
        self.seq = seq
        self.time = time
        self.event = event
    }

    /// The event as JSON: its payload plus `job` and `time`.
    public func json() -> String {
        struct Wire: Encodable {
            var job: JobID
            var seq: Int64
            var time: Date
            var event: JobEvent
            func encode(to encoder: Encoder) throws {
                try event.encode(to: encoder)
                var c = encoder.container(keyedBy: K.self)
                try c.encode(job, forKey: .job)
                try c.encode(seq, forKey: .seq)
                try c.encode(time, forKey: .time)
            }
            enum K: String, CodingKey { case job, seq, time }
        }
        let data = try! JobJSON.encoder.encode(Wire(job: jobID, seq: seq, time: time, event: event))
        return String(decoding: data, as: UTF8.self)
    }

    /// The event in Server-Sent Events framing ("id:", "event:", "data:", blank line).
    public func serverSentEvent() -> String {
        "id: \(seq)\nevent: \(event.kind.rawValue)\ndata: \(json())\n\n"
    }
}

/// The JSON conventions of the job API and the store: ISO 8601 dates with
/// fractional seconds, sorted keys.
public enum JobJSON {
    public static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(formatDate(date))
        }
        return e
    }()

    public static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { decoder in
            let c = try decoder.singleValueContainer()
            let s = try c.decode(String.self)
            guard let date = parseDate(s) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "not an ISO 8601 date: \(s)")
            }
            return date
        }
        return d
    }()

    public static func formatDate(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    public static func parseDate(_ s: String) -> Date? {
        if let d = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(s) { return d }
        return try? Date.ISO8601FormatStyle().parse(s)
    }
}
