/// The element types of the safetensors format, with their names as written in
/// the header. The engine computes in Float32; every numeric type except the
/// 8-bit floats is converted to Float32 on read (integers exactly up to 2^24,
/// which covers PyTorch's `num_batches_tracked` counters and label tables).
public enum SafetensorsDType: String, CaseIterable, Sendable {
    case BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .BOOL, .U8, .I8, .F8_E5M2, .F8_E4M3: return 1
        case .I16, .U16, .F16, .BF16: return 2
        case .I32, .U32, .F32: return 4
        case .F64, .I64, .U64: return 8
        }
    }

    /// Whether `convertToFloat` reads this type.
    public var isReadable: Bool { self != .F8_E5M2 && self != .F8_E4M3 }

    /// Decodes `count` little-endian elements starting at `offset` of `bytes` into Float32.
    /// The caller has checked that `offset + count * size <= bytes.count`.
    func convertToFloat(_ bytes: UnsafeRawBufferPointer, offset: Int, count: Int) -> [Float] {
        precondition(isReadable && offset >= 0 && offset + count * size <= bytes.count,
                     "SafetensorsDType.convertToFloat: \(self) x \(count) at \(offset) outside \(bytes.count) bytes")
        let base = bytes.baseAddress.map { $0 + offset }
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            defer { initialized = count }
            guard let base, count > 0 else { return }
            func each<T: FixedWidthInteger>(_: T.Type, _ f: (T) -> Float) {
                for k in 0..<count {
                    out[k] = f(T(littleEndian: base.loadUnaligned(fromByteOffset: k * MemoryLayout<T>.size, as: T.self)))
                }
            }
            switch self {
            case .F32:
                #if _endian(little)
                out.baseAddress!.withMemoryRebound(to: UInt8.self, capacity: count * 4) {
                    $0.update(from: base.assumingMemoryBound(to: UInt8.self), count: count * 4)
                }
                #else
                each(UInt32.self) { Float(bitPattern: $0) }
                #endif
            case .F64: each(UInt64.self) { Float(Double(bitPattern: $0)) }
            case .F16: each(UInt16.self, halfToFloat)
            case .BF16: each(UInt16.self) { Float(bitPattern: UInt32($0) << 16) }
            case .BOOL: each(UInt8.self) { $0 == 0 ? 0 : 1 }
            case .U8: each(UInt8.self) { Float($0) }
            case .I8: each(Int8.self) { Float($0) }
            case .U16: each(UInt16.self) { Float($0) }
            case .I16: each(Int16.self) { Float($0) }
            case .U32: each(UInt32.self) { Float($0) }
            case .I32: each(Int32.self) { Float($0) }
            case .U64: each(UInt64.self) { Float($0) }
            case .I64: each(Int64.self) { Float($0) }
            case .F8_E5M2, .F8_E4M3: fatalError("unreachable: checked by isReadable")
            }
        }
    }
}

/// IEEE 754 binary16 to binary32, exact for every value (subnormals, infinities, NaN payloads).
func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = Int(h >> 10) & 0x1F
    let mantissa = UInt32(h & 0x3FF)
    switch exponent {
    case 0:
        // Zero or subnormal: mantissa * 2^-24.
        let magnitude = Float(mantissa) * 0x1p-24
        return sign == 0 ? magnitude : -magnitude
    case 0x1F:
        return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
    default:
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | mantissa << 13)
    }
}
