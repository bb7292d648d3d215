import Foundation
import Logging

/// The daemon's log handler: StreamLogHandler's line format
/// (`TIMESTAMP LEVEL LABEL : key=value ... [SOURCE] MESSAGE`, metadata sorted
/// by key), written to standard error through `LogSink`, which collects the
/// lines of a busy moment into one write instead of one write (and one
/// journald message wake-up) per line. Setting metadata costs a dictionary
/// store; it is formatted only when a line is written.
public struct DaemonLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let sink: LogSink

    public init(label: String, level: Logger.Level, sink: LogSink = .standardError) {
        self.label = label
        self.logLevel = level
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(
        level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String,
        file: String, function: String, line: UInt
    ) {
        var all = metadata
        if let provided = metadataProvider?.get(), !provided.isEmpty { all.merge(provided) { $1 } }
        if let explicit, !explicit.isEmpty { all.merge(explicit) { $1 } }
        var text = sink.timestamp()
        text += " \(level) \(label) :"
        for (key, value) in all.sorted(by: { $0.key < $1.key }) { text += " \(key)=\(value)" }
        text += " [\(source)] \(message)\n"
        sink.write(text, urgent: level >= .warning)
    }
}

/// Lines on their way to a file descriptor. A line is appended to a buffer
/// under a lock; a writer thread sends the buffer with one `write` after at
/// most `delay` (so a quiet daemon's lines still appear at once, and a busy
/// one's are grouped), warnings and errors are written before `write`
/// returns, and `flush` (at exit) empties it.
public final class LogSink: @unchecked Sendable {
    public static let standardError = LogSink(fd: 2)

    private let fd: Int32
    private let delay: TimeInterval
    private let condition = NSCondition()
    private let writing = NSLock()
    private var buffer: [UInt8] = []
    private var writerStarted = false
    private var stampSecond = -1
    private var stamp = ""

    public init(fd: Int32, delay: TimeInterval = 0.02) {
        self.fd = fd
        self.delay = delay
        buffer.reserveCapacity(1 << 16)
    }

    /// Seconds-resolution local time as StreamLogHandler writes it, made
    /// once per second.
    func timestamp() -> String {
        var now = time(nil)
        condition.lock()
        defer { condition.unlock() }
        if Int(now) != stampSecond {
            var tm = tm()
            localtime_r(&now, &tm)
            var chars = [CChar](repeating: 0, count: 64)
            let n = strftime(&chars, chars.count, "%Y-%m-%dT%H:%M:%S%z", &tm)
            stamp = String(decoding: chars.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            stampSecond = Int(now)
        }
        return stamp
    }

    func write(_ line: String, urgent: Bool) {
        condition.lock()
        buffer.append(contentsOf: line.utf8)
        if urgent || buffer.count >= 1 << 16 {
            condition.unlock()
            flush()
            return
        }
        if !writerStarted {
            writerStarted = true
            let t = Thread { [self] in writerLoop() }
            t.name = "dlserve-log"
            t.start()
        }
        if buffer.count == line.utf8.count { condition.signal() }
        condition.unlock()
    }

    /// Writes whatever is buffered now (in order: one writer at a time).
    public func flush() {
        writing.lock()
        defer { writing.unlock() }
        condition.lock()
        let pending = buffer
        buffer.removeAll(keepingCapacity: true)
        condition.unlock()
        writeAll(pending)
    }

    private func writerLoop() {
        while true {
            condition.lock()
            while buffer.isEmpty { condition.wait() }
            condition.unlock()
            Thread.sleep(forTimeInterval: delay)
            flush()
        }
    }

    private func writeAll(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return  // nowhere to report a failing log descriptor
                }
                offset += n
            }
        }
    }
}
