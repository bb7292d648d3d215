import DLTensor

extension RecurrentDecoderState: ConcatenableDecoderState {
    /// The rows of every state in order, over attention memories holding only
    /// the sources those rows use. Sources of different lengths are padded
    /// with zero memory and keys to the longest, and the padding is masked
    /// out (a mask is made where a memory had none), so a row attends over
    /// exactly its own source as before; the carried states are the rows'
    /// own. `length` becomes the longest row's: it only places positional
    /// encoding, which `RecurrentStepper.hasPositionalEncoding` models must
    /// not be batched across lengths with (the server refuses them).
    public static func concatenating(_ states: [RecurrentDecoderState]) -> RecurrentDecoderState {
        precondition(!states.isEmpty, "RecurrentDecoderState.concatenating: no states")
        let attentions = states[0].encoded.memories.count
        let layers = states[0].carries.count
        precondition(states.allSatisfy { $0.encoded.memories.count == attentions && $0.carries.count == layers },
                     "RecurrentDecoderState.concatenating: states of different models")
        let (used, sourceRows) = concatenatedSourceRows(states.map(\.sourceRows))
        let carries = (0..<layers).map { j in RecurrentCarry.concatenating(states.map { $0.carries[j] }) }
        let encoded = AttentionMemories.concatenating(states.map(\.encoded), used: used)
        return RecurrentDecoderState(encoded: encoded, sourceRows: sourceRows, carries: carries,
                                     length: states.map(\.length).max()!)
    }
}

extension RecurrentCarry {
    /// Rows of `parts[0]`, then of `parts[1]`, ...
    static func concatenating(_ parts: [RecurrentCarry]) -> RecurrentCarry {
        let layers = parts[0].hidden.count
        return RecurrentCarry(
            hidden: (0..<layers).map { l in parts.flatMap { $0.hidden[l] } },
            cell: parts[0].cell.isEmpty ? [] : (0..<layers).map { l in parts.flatMap { $0.cell[l] } },
            hiddenSize: parts[0].hiddenSize, rowCount: parts.reduce(0) { $0 + $1.rowCount })
    }
}

extension AttentionMemories {
    /// Sources `used[i]` of `parts[i]`, end to end, padded to the longest
    /// source (memory [n, S, Dk], keys [n, S, A], mask [n, S]).
    static func concatenating(_ parts: [AttentionMemories], used: [[Int]]) -> AttentionMemories {
        let total = used.reduce(0) { $0 + $1.count }
        var memories: [Tensor] = [], keys: [Tensor] = [], masks: [Tensor?] = []
        for j in 0..<parts[0].memories.count {
            let s = parts.map { $0.memories[j].shape[1] }.max()!
            let dk = parts[0].memories[j].shape[2], da = parts[0].projectedKeys[j].shape[2]
            var m = [Float](repeating: 0, count: total * s * dk), k = [Float](repeating: 0, count: total * s * da)
            let needsMask = parts.contains { $0.masks[j] != nil || $0.memories[j].shape[1] != s }
            var mask = needsMask ? [Float](repeating: 0, count: total * s) : []
            var out = 0
            for (part, sources) in zip(parts, used) {
                let ps = part.memories[j].shape[1]
                let pm = part.memories[j].data, pk = part.projectedKeys[j].data, pmask = part.masks[j]?.data
                for src in sources {
                    m.replaceSubrange((out * s * dk)..<((out * s + ps) * dk), with: pm[(src * ps * dk)..<((src + 1) * ps * dk)])
                    k.replaceSubrange((out * s * da)..<((out * s + ps) * da), with: pk[(src * ps * da)..<((src + 1) * ps * da)])
                    if needsMask {
                        for t in 0..<ps { mask[out * s + t] = pmask.map { $0[src * ps + t] } ?? 1 }
                    }
                    out += 1
                }
            }
            memories.append(Tensor(shape: [total, s, dk], data: m))
            keys.append(Tensor(shape: [total, s, da], data: k))
            masks.append(needsMask ? Tensor(shape: [total, s], data: mask) : nil)
        }
        return AttentionMemories(memories: memories, projectedKeys: keys, masks: masks)
    }
}

extension GraphDecoder.State: ConcatenableDecoderState {
    /// States of one family (a decoder never mixes them).
    public static func concatenating(_ states: [GraphDecoder.State]) -> GraphDecoder.State {
        var kv: [KVCacheState] = [], recurrent: [RecurrentDecoderState] = []
        for s in states {
            switch s {
            case .transformer(let t): kv.append(t)
            case .recurrent(let r): recurrent.append(r)
            }
        }
        precondition(kv.isEmpty || recurrent.isEmpty, "GraphDecoder.State.concatenating: states of both families")
        return kv.isEmpty ? .recurrent(.concatenating(recurrent)) : .transformer(.concatenating(kv))
    }
}
