import Foundation

/// Softmax and top-k: the one copy classification, sentiment, V2's
/// "probabilities" output and the test fakes use.
public enum Probabilities {
    /// Numerically stable softmax: exp(x - max) / sum.
    public static func softmax(_ logits: [Float]) -> [Float] {
        guard let m = logits.max() else { return [] }
        let e = logits.map { Foundation.exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    /// Softmax over the last axis of rows of `width` values.
    public static func softmaxRows(_ values: [Float], width: Int) -> [Float] {
        guard width > 0 else { return values }
        var out: [Float] = []
        out.reserveCapacity(values.count)
        var i = 0
        while i < values.count {
            out += softmax(Array(values[i..<min(i + width, values.count)]))
            i += width
        }
        return out
    }

    /// Indices and values of the k largest values, largest first (ties: lower index first).
    public static func topK(_ p: [Float], k: Int) -> [(index: Int, value: Float)] {
        Array(p.enumerated().sorted { $0.element > $1.element || ($0.element == $1.element && $0.offset < $1.offset) }
            .prefix(k).map { ($0.offset, $0.element) })
    }
}
