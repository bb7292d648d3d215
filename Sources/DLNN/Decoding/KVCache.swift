import DLTensor

/// What one fed token left in every decoder layer's self-attention: its key
/// and value ([layers * E], layer-major, heads side by side as the
/// projections give them) and whether it was a real token (the target
/// mask). Immutable and shared: rows that fork from one hypothesis share
/// their prefix's entries, so `selecting(rows:)` copies references only.
final class KVEntry: @unchecked Sendable {
    let keys: [Float]
    let values: [Float]
    /// Per layer: 1 for a real token, 0 for padding (1 when the layer has no target mask).
    let keep: [Float]

    init(keys: [Float], values: [Float], keep: [Float]) {
        (self.keys, self.values, self.keep) = (keys, values, keep)
    }
}

/// The encoder's outputs for one batch of sources, computed once in `start`:
/// per decoder layer, the cross-attention keys and values of the memory
/// already projected and split into heads, [sources, H, S, E/H], and the
/// memory mask [sources, S] (nil when the layer has none).
final class EncodedSources: @unchecked Sendable {
    let crossKeys: [Tensor]
    let crossValues: [Tensor]
    let memoryMasks: [Tensor?]

    init(crossKeys: [Tensor], crossValues: [Tensor], memoryMasks: [Tensor?]) {
        (self.crossKeys, self.crossValues, self.memoryMasks) = (crossKeys, crossValues, memoryMasks)
    }
}

/// The state of `EncoderDecoderStepper`, one row per hypothesis: the row's
/// source (an index into the encoded batch) and one `KVEntry` per token fed
/// so far. The rows of one `start` have all fed the same number of tokens
/// (the decoding library steps all rows together); a state concatenated from
/// requests that started at different times (`concatenating`) holds rows of
/// different lengths, each at its own position.
public struct KVCacheState: DecoderState, @unchecked Sendable {
    let encoded: EncodedSources
    /// Row -> index of its source in `encoded`.
    let sourceRows: [Int]
    /// Row -> its cached entries, oldest first.
    let entries: [[KVEntry]]
    /// Tokens fed so far by the longest row (the position of its next one).
    public let length: Int
    /// What the step that produced this state computed (zero after `start`).
    public let lastStep: StepWork

    public var rowCount: Int { sourceRows.count }

    /// Tokens fed so far by each row.
    public var rowLengths: [Int] { entries.map(\.count) }

    /// True when every row has fed `length` tokens (one start, stepped together).
    var isAligned: Bool { entries.allSatisfy { $0.count == length } }

    public func selecting(rows: [Int]) -> KVCacheState {
        let picked = rows.map { entries[$0] }
        let longest = rows.isEmpty ? length : picked.map(\.count).max()!
        return KVCacheState(encoded: encoded, sourceRows: rows.map { sourceRows[$0] }, entries: picked,
                            length: longest, lastStep: lastStep)
    }

    /// Keys [R, H, L + 1, E/H], values alike, and the key mask
    /// [R, 1, 1, L + 1] of decoder layer `layer`: the cached entries followed
    /// by this step's key and value ([R * E] each) and mask ([R]). A row that
    /// has fed fewer than L tokens leaves a gap of zero keys, masked out.
    func selfAttentionInputs(layer: Int, heads h: Int, newKeys: [Float], newValues: [Float], newKeep: [Float])
        -> (keys: Tensor, values: Tensor, keep: Tensor)
    {
        let r = rowCount, l = length + 1, e = newKeys.count / max(r, 1), d = e / h
        var k = [Float](repeating: 0, count: r * h * l * d), v = k
        var keep = [Float](repeating: 0, count: r * l)
        func copy(_ keys: [Float], _ values: [Float], from src: Int, row: Int, position t: Int) {
            for head in 0..<h {
                let from = src + head * d, to = ((row * h + head) * l + t) * d
                for j in 0..<d {
                    k[to + j] = keys[from + j]
                    v[to + j] = values[from + j]
                }
            }
        }
        for row in 0..<r {
            for (t, entry) in entries[row].enumerated() {
                keep[row * l + t] = entry.keep[layer]
                copy(entry.keys, entry.values, from: layer * e, row: row, position: t)
            }
            keep[row * l + l - 1] = newKeep[row]
            copy(newKeys, newValues, from: row * e, row: row, position: l - 1)
        }
        return (Tensor(shape: [r, h, l, d], data: k), Tensor(shape: [r, h, l, d], data: v),
                Tensor(shape: [r, 1, 1, l], data: keep))
    }
}

/// What one decoder step did, so tests (and a profiler) can see that no
/// prefix is recomputed: tokens run through the decoder path (one per row),
/// and keys each self-attention query attended (the cache plus the new one).
public struct StepWork: Sendable, Equatable {
    public var rows: Int
    /// Target positions projected and run through the layers in this step.
    public var positionsComputed: Int
    /// Keys per row in each self-attention of this step.
    public var selfAttentionKeys: Int

    public init(rows: Int, positionsComputed: Int, selfAttentionKeys: Int) {
        (self.rows, self.positionsComputed, self.selfAttentionKeys) = (rows, positionsComputed, selfAttentionKeys)
    }
}
