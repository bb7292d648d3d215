import NIOConcurrencyHelpers

/// Request ids for requests that bring none: random (version 4) UUIDs in
/// lowercase, as `UUID().uuidString.lowercased()` writes them, from a
/// xoshiro256** generator seeded once from the system's random source.
/// Foundation's `UUID()` opens /dev/urandom on every call on Linux (an open,
/// a read and a close per request); ids need to be unique, not secret.
enum RequestID {
    private static let generator = NIOLockedValueBox(Xoshiro256())
    private static let hex = Array("0123456789abcdef".utf8)

    static func make() -> String {
        let (a, b) = generator.withLockedValue { g in (g.next(), g.next()) }
        // Version 4 in the high nibble of byte 6, variant 10 in byte 8.
        let hi = (a & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000
        let lo = (b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        return String(unsafeUninitializedCapacity: 36) { out in
            var i = 0
            func put(_ word: UInt64, _ nibbles: ClosedRange<Int>) {
                for n in nibbles.reversed() {
                    out[i] = hex[Int((word >> UInt64(n * 4)) & 15)]
                    i += 1
                }
            }
            put(hi, 8...15); out[i] = UInt8(ascii: "-"); i += 1
            put(hi, 4...7); out[i] = UInt8(ascii: "-"); i += 1
            put(hi, 0...3); out[i] = UInt8(ascii: "-"); i += 1
            put(lo, 12...15); out[i] = UInt8(ascii: "-"); i += 1
            put(lo, 0...11)
            return i
        }
    }
}

/// xoshiro256** (Blackman and Vigna), seeded from `SystemRandomNumberGenerator`.
struct Xoshiro256: RandomNumberGenerator {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    init() {
        var system = SystemRandomNumberGenerator()
        s = (system.next(), system.next(), system.next(), system.next())
        if s == (0, 0, 0, 0) { s.0 = 1 }
    }

    mutating func next() -> UInt64 {
        let result = rotl(s.1 &* 5, 7) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = rotl(s.3, 45)
        return result
    }

    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}
