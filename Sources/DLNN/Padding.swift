import DLKernels

/// A (height, width) pair of a 2-D window attribute: kernel size, stride,
/// padding. Written in model.json as an integer (both axes) or [h, w].
public struct Size2: Equatable, Sendable, CustomStringConvertible {
    public var h: Int
    public var w: Int
    public init(_ h: Int, _ w: Int) { self.h = h; self.w = w }
    public init(_ both: Int) { self.init(both, both) }
    public var description: String { h == w ? "\(h)" : "[\(h), \(w)]" }

    /// Reads `key` as an integer or a pair; `minimum` bounds both entries.
    static func from(_ spec: LayerSpec, _ key: String, default d: Size2? = nil, minimum: Int) throws -> Size2 {
        let v = try spec.ints(key, default: d.map { [$0.h, $0.w] })
        guard v.count == 1 || v.count == 2 else {
            throw ModelError.architecture("layer '\(spec.name)' (\(spec.type)): '\(key)' must be an integer or [h, w], got \(v)")
        }
        let s = v.count == 1 ? Size2(v[0]) : Size2(v[0], v[1])
        guard s.h >= minimum && s.w >= minimum else {
            throw ModelError.architecture("layer '\(spec.name)' (\(spec.type)): '\(key)' must be at least \(minimum), got \(s)")
        }
        return s
    }
}

/// How a convolution or pooling window pads its input.
public enum Padding2D: Equatable, Sendable, CustomStringConvertible {
    /// No padding: only windows that lie entirely inside the input.
    case valid
    /// TensorFlow's "same": output = ceil(n / s) for any stride; the total
    /// padding max((ceil(n/s) - 1) * s + f - n, 0) is split floor before,
    /// ceil after. (The course notes' p = (f - 1) / 2 holds only for stride 1
    /// and odd f; this is the general rule.)
    case same
    /// The same number of zeros on both sides of each axis (PyTorch's `padding`).
    case explicit(Size2)

    public var description: String {
        switch self {
        case .valid: return "\"valid\""
        case .same: return "\"same\""
        case .explicit(let p): return p.description
        }
    }

    /// Padding (before, after) along one axis of size n.
    public static func sameAmounts(n: Int, kernel f: Int, stride s: Int) -> (before: Int, after: Int) {
        let out = (n + s - 1) / s
        let total = Swift.max((out - 1) * s + f - n, 0)
        return (total / 2, total - total / 2)
    }

    /// (top, bottom, left, right) for an input of h x w.
    public func amounts(height h: Int, width w: Int, kernel k: Size2, stride s: Size2) -> (top: Int, bottom: Int, left: Int, right: Int) {
        switch self {
        case .valid: return (0, 0, 0, 0)
        case .explicit(let p): return (p.h, p.h, p.w, p.w)
        case .same:
            let v = Padding2D.sameAmounts(n: h, kernel: k.h, stride: s.h)
            let u = Padding2D.sameAmounts(n: w, kernel: k.w, stride: s.w)
            return (v.before, v.after, u.before, u.after)
        }
    }

    /// Reads `padding`: "valid", "same", an integer or [ph, pw] (default 0).
    static func from(_ spec: LayerSpec, key: String = "padding", allowSame: Bool = true) throws -> Padding2D {
        if case .string(let s)? = spec.attr(key) {
            switch s {
            case "valid": return .valid
            case "same" where allowSame: return .same
            default:
                throw ModelError.architecture(
                    "layer '\(spec.name)' (\(spec.type)): '\(key)' must be \(allowSame ? "\"valid\", \"same\", " : "")an integer or [h, w], got \"\(s)\"")
            }
        }
        let p = try Size2.from(spec, key, default: Size2(0), minimum: 0)
        return p == Size2(0) ? .valid : .explicit(p)
    }
}

/// The window geometry of a layer over an input [C, H, W], with errors a
/// model file can cause (too small an input, a window in the padding only).
func windowGeometry(
    layer: String, inputShape s: [Int], kernel k: Size2, stride st: Size2, padding: Padding2D
) throws -> ConvGeometry {
    guard s.count == 3, s.allSatisfy({ $0 > 0 }) else {
        throw ModelError.shape("\(layer): expects an input [C, H, W], got \(s)")
    }
    let p = padding.amounts(height: s[1], width: s[2], kernel: k, stride: st)
    guard s[1] + p.top + p.bottom >= k.h, s[2] + p.left + p.right >= k.w else {
        throw ModelError.shape(
            "\(layer): input \(s[1])x\(s[2]) with padding \(padding) is smaller than the \(k.h)x\(k.w) kernel")
    }
    return ConvGeometry(
        channels: s[0], height: s[1], width: s[2], kernelH: k.h, kernelW: k.w, strideH: st.h, strideW: st.w,
        padTop: p.top, padBottom: p.bottom, padLeft: p.left, padRight: p.right)
}
