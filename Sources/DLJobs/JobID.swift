import Foundation

/// A job's identifier: a ULID (48-bit millisecond timestamp + 80 random bits,
/// 26 characters of Crockford base32), so that ids sort by creation time and a
/// listing can page with "older than this id" as its cursor.
///
/// ULID spec: https://github.com/ulid/spec
public struct JobID: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public let rawValue: String

    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")

    /// Accepts a 26-character ULID (case-insensitive); nil for anything else.
    public init?(_ string: String) {
        let upper = string.uppercased()
        guard upper.count == 26, upper.allSatisfy({ Self.alphabet.contains($0) }),
              let first = upper.first, first <= "7" else { return nil }
        rawValue = upper
    }

    /// A new id for time `date` with 80 bits from `random`.
    public init<R: RandomNumberGenerator>(date: Date, using random: inout R) {
        let ms = UInt64(max(0, date.timeIntervalSince1970 * 1000)) & 0xFFFF_FFFF_FFFF
        self.init(milliseconds: ms, randomHigh: UInt16.random(in: .min ... .max, using: &random),
                  randomLow: UInt64.random(in: .min ... .max, using: &random))
    }

    init(milliseconds: UInt64, randomHigh: UInt16, randomLow: UInt64) {
        // 128 bits: 48 time, 80 random -> 26 base32 digits (the first holds 3 bits).
        let high = (milliseconds << 16) | UInt64(randomHigh)  // bits 127..64
        let low = randomLow  // bits 63..0
        var chars: [Character] = []
        chars.reserveCapacity(26)
        for i in 0..<26 {
            let shift = 125 - 5 * i  // position of the digit's lowest bit
            let value: UInt64
            if shift >= 64 {
                value = (high >> UInt64(shift - 64)) & 0x1F
            } else if shift + 5 <= 64 {
                value = (low >> UInt64(shift)) & 0x1F
            } else {
                // The digit straddles the two words.
                let lowBits = 64 - shift
                value = ((high << UInt64(lowBits)) | (low >> UInt64(shift))) & 0x1F
            }
            chars.append(Self.alphabet[Int(value)])
        }
        rawValue = String(chars)
    }

    /// Creation time encoded in the id (millisecond precision).
    public var date: Date {
        var ms: UInt64 = 0
        for c in rawValue.prefix(10) {
            ms = ms << 5 | UInt64(Self.alphabet.firstIndex(of: c)!)
        }
        return Date(timeIntervalSince1970: Double(ms) / 1000)
    }

    public var description: String { rawValue }

    public static func < (a: JobID, b: JobID) -> Bool { a.rawValue < b.rawValue }

    public init(from decoder: Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let id = JobID(s) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a job id: \(s)"))
        }
        self = id
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// Makes ids that strictly increase even within one millisecond (the ULID
/// spec's monotonic mode: same millisecond -> previous random part + 1).
public final class JobIDGenerator: @unchecked Sendable {
    private let lock = NSLock()
    private var rng: SystemRandomNumberGenerator = .init()
    private var last: (ms: UInt64, high: UInt16, low: UInt64)?

    public init() {}

    public func next(at date: Date) -> JobID {
        lock.lock()
        defer { lock.unlock() }
        let ms = UInt64(max(0, date.timeIntervalSince1970 * 1000)) & 0xFFFF_FFFF_FFFF
        var parts: (ms: UInt64, high: UInt16, low: UInt64)
        if let last, ms <= last.ms {
            let (low, carry) = last.low.addingReportingOverflow(1)
            parts = (last.ms, carry ? last.high &+ 1 : last.high, low)
        } else {
            parts = (ms, UInt16.random(in: 0 ... 0x7FFF, using: &rng), UInt64.random(in: .min ... .max, using: &rng))
        }
        last = parts
        return JobID(milliseconds: parts.ms, randomHigh: parts.high, randomLow: parts.low)
    }
}
