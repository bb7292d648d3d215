import DLTensor

extension KVCacheState: ConcatenableDecoderState {
    /// The rows of every state in order, over one encoded batch that holds
    /// only the sources those rows use. Sources of different padded lengths
    /// are padded with zero keys and values to the longest, and the padding
    /// is masked out of cross-attention (a memory mask is made for layers
    /// that had none), so a row attends over exactly its own source as
    /// before. Rows keep their cached entries (shared, not copied) and their
    /// own positions; `length` becomes the longest row's.
    public static func concatenating(_ states: [KVCacheState]) -> KVCacheState {
        precondition(!states.isEmpty, "KVCacheState.concatenating: no states")
        let layers = states[0].encoded.crossKeys.count
        precondition(states.allSatisfy { $0.encoded.crossKeys.count == layers },
                     "KVCacheState.concatenating: states of models with different decoder layers")
        let (used, sourceRows) = concatenatedSourceRows(states.map(\.sourceRows))
        let entries = states.flatMap(\.entries)
        let rows = states.reduce(0) { $0 + $1.rowCount }
        let work = StepWork(rows: rows, positionsComputed: states.reduce(0) { $0 + $1.lastStep.positionsComputed },
                            selfAttentionKeys: states.map(\.lastStep.selfAttentionKeys).max()!)
        let length = entries.isEmpty ? states.map(\.length).max()! : entries.map(\.count).max()!
        let encoded = EncodedSources.concatenating(states.map(\.encoded), used: used, layers: layers)
        return KVCacheState(encoded: encoded, sourceRows: sourceRows, entries: entries, length: length, lastStep: work)
    }
}

extension EncodedSources {
    /// Padded source length S of this batch (0 without decoder layers).
    var sourceLength: Int { crossKeys.first?.shape[2] ?? 0 }

    /// Sources `used[i]` of `parts[i]`, end to end, padded to the longest S.
    static func concatenating(_ parts: [EncodedSources], used: [[Int]], layers: Int) -> EncodedSources {
        let total = used.reduce(0) { $0 + $1.count }
        let s = parts.map(\.sourceLength).max() ?? 0
        var keys: [Tensor] = [], values: [Tensor] = [], masks: [Tensor?] = []
        for j in 0..<layers {
            let shape = parts[0].crossKeys[j].shape  // [n, H, S, d]
            let (h, d) = (shape[1], shape[3])
            var k = [Float](repeating: 0, count: total * h * s * d), v = k
            let needsMask = parts.contains { $0.memoryMasks[j] != nil || $0.sourceLength != s }
            var mask = needsMask ? [Float](repeating: 0, count: total * s) : []
            var out = 0
            for (part, sources) in zip(parts, used) {
                let ps = part.sourceLength
                let pk = part.crossKeys[j].data, pv = part.crossValues[j].data
                let pm = part.memoryMasks[j]?.data
                for src in sources {
                    for head in 0..<h {
                        let from = (src * h + head) * ps * d, to = (out * h + head) * s * d
                        k.replaceSubrange(to..<(to + ps * d), with: pk[from..<(from + ps * d)])
                        v.replaceSubrange(to..<(to + ps * d), with: pv[from..<(from + ps * d)])
                    }
                    if needsMask {
                        for t in 0..<ps { mask[out * s + t] = pm.map { $0[src * ps + t] } ?? 1 }
                    }
                    out += 1
                }
            }
            keys.append(Tensor(shape: [total, h, s, d], data: k))
            values.append(Tensor(shape: [total, h, s, d], data: v))
            masks.append(needsMask ? Tensor(shape: [total, s], data: mask) : nil)
        }
        return EncodedSources(crossKeys: keys, crossValues: values, memoryMasks: masks)
    }
}

/// Rows of several decoder states put end to end over one encoded batch:
/// per state, the sources its rows use (in first-use order), and every row's
/// index into the concatenated sources.
func concatenatedSourceRows(_ rowsPerState: [[Int]]) -> (used: [[Int]], sourceRows: [Int]) {
    var used: [[Int]] = [], sourceRows: [Int] = [], base = 0
    for rows in rowsPerState {
        var index: [Int: Int] = [:], order: [Int] = []
        for s in rows where index[s] == nil {
            index[s] = base + order.count
            order.append(s)
        }
        sourceRows += rows.map { index[$0]! }
        used.append(order)
        base += order.count
    }
    return (used, sourceRows)
}
