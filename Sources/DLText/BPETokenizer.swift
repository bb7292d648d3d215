import Foundation

/// Encodes text to subword ids with a `BPEModel` and decodes ids back to
/// text: `decode(encode(x)) == SubwordPreTokenizer.normalize(x)` for every
/// text with byte fallback; without it, characters outside the alphabet come
/// back as '⁇'.
///
/// Each piece is encoded by applying merges by rank: the adjacent pair with
/// the lowest rank is merged (all its occurrences, left to right) until no
/// pair has a merge, which gives what learning gave. Pieces are cached (up
/// to `cacheLimit`, then the cache starts over); the class is safe to share
/// between threads.
public final class BPETokenizer: @unchecked Sendable {
    public let model: BPEModel
    public let cacheLimit: Int
    private var cache: [SubwordPreTokenizer.Piece: [Int32]] = [:]
    private let lock = NSLock()

    public init(model: BPEModel, cacheLimit: Int = 200_000) {
        self.model = model
        self.cacheLimit = cacheLimit
    }

    /// The ids of `text`, with `<bos>` first and `<eos>` last when asked.
    public func encode(_ text: String, addBeginning: Bool = false, addEnd: Bool = false) -> [Int] {
        var ids: [Int] = addBeginning ? [BPEModel.beginningID] : []
        for p in SubwordPreTokenizer.pieces(text) {
            for i in encode(piece: p) { ids.append(Int(i)) }
        }
        if addEnd { ids.append(BPEModel.endID) }
        return ids
    }

    /// The token strings of `text` (for display and tests).
    public func tokens(_ text: String) -> [String] {
        encode(text).map { model.vocabulary.words[$0] }
    }

    /// The ids of one piece.
    public func encode(piece: SubwordPreTokenizer.Piece) -> [Int32] {
        lock.lock()
        let hit = cache[piece]
        lock.unlock()
        if let hit { return hit }
        let ids = model.encodeUncached(piece)
        lock.lock()
        if cache.count >= cacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[piece] = ids
        lock.unlock()
        return ids
    }

    /// The text of `ids`: markers become spaces (the first one dropped),
    /// runs of byte tokens are decoded as UTF-8 (invalid bytes as U+FFFD),
    /// `<pad>`, `<bos>` and `<eos>` are skipped, and `<unk>` (or an id out of
    /// range) reads '⁇'.
    public func decode<S: Sequence>(_ ids: S) -> String where S.Element == Int {
        model.decode(ids)
    }
}

extension BPEModel {
    /// Symbols of a piece before merging.
    func symbols(_ piece: SubwordPreTokenizer.Piece) -> [Int32] {
        var out: [Int32] = piece.spaceBefore ? [Int32(markerID)] : []
        for s in piece.body.unicodeScalars {
            if s != SubwordPreTokenizer.marker, let id = scalarIDs[s.value] {
                out.append(id)
            } else if byteFallback {
                for b in String(s).utf8 { out.append(Int32(Self.byteID(b))) }
            } else {
                out.append(Int32(Self.unknownID))
            }
        }
        return out
    }

    /// Applies the merges by rank.
    func encodeUncached(_ piece: SubwordPreTokenizer.Piece) -> [Int32] {
        var syms = symbols(piece)
        while syms.count > 1 {
            var bestRank = Int32.max, bestResult: Int32 = 0, a: Int32 = 0, b: Int32 = 0
            for i in 0..<(syms.count - 1) {
                if let m = mergeTable[Self.pairKey(syms[i], syms[i + 1])], m.rank < bestRank {
                    bestRank = m.rank
                    bestResult = m.result
                    a = syms[i]
                    b = syms[i + 1]
                }
            }
            if bestRank == .max { break }
            var out: [Int32] = []
            out.reserveCapacity(syms.count - 1)
            var i = 0
            while i < syms.count {
                if i + 1 < syms.count && syms[i] == a && syms[i + 1] == b {
                    out.append(bestResult)
                    i += 2
                } else {
                    out.append(syms[i])
                    i += 1
                }
            }
            syms = out
        }
        return syms
    }

    public func decode<S: Sequence>(_ ids: S) -> String where S.Element == Int {
        var out = ""
        var bytes: [UInt8] = []
        let byteRange = Self.reserved.count..<(Self.reserved.count + (byteFallback ? 256 : 0))
        func flushBytes() {
            guard !bytes.isEmpty else { return }
            out += String(decoding: bytes, as: UTF8.self)
            bytes.removeAll(keepingCapacity: true)
        }
        for id in ids {
            if byteRange.contains(id) {
                bytes.append(UInt8(id - Self.reserved.count))
                continue
            }
            flushBytes()
            switch id {
            case Self.paddingID, Self.beginningID, Self.endID: continue
            case Self.unknownID: out += Self.unknownText
            case 0..<vocabulary.count:
                let t = vocabulary.words[id]
                if t.unicodeScalars.first == SubwordPreTokenizer.marker {
                    if !out.isEmpty { out += " " }
                    out.unicodeScalars.append(contentsOf: t.unicodeScalars.dropFirst())
                } else {
                    out += t
                }
            default: out += Self.unknownText
            }
        }
        flushBytes()
        return out
    }
}
