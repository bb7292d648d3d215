import DLText
import Foundation
import XCTest

/// Speed sanity runs: print figures, assert nothing about time.
/// `DLSERVE_BPE_CORPUS=path/to/train.tsv` (ENGLISH<TAB>SPANISH lines) runs
/// them on real text, with 8k and 16k merges, shared and separate.
final class BPESpeedTests: XCTestCase {
    func time<T>(_ body: () -> T) -> (T, Double) {
        let t0 = Date()
        let r = body()
        return (r, Date().timeIntervalSince(t0))
    }

    /// Zipf-like sentences over 20,000 made-up words of 1 to 4 syllables.
    func syntheticCorpus(sentences: Int) -> [String] {
        var rng = SplitMix64(seed: 1)
        let syllables = ["ca", "sa", "de", "la", "ni", "ño", "ción", "tra", "pre", "mos", "es", "te", "ri", "qué",
                         "ho", "use", "the", "ing", "er", "ed", "an", "con", "pin", "güi", "to", "ma", "ña", "na"]
        let words = (0..<20_000).map { _ in
            (0..<Int.random(in: 1...4, using: &rng)).map { _ in syllables.randomElement(using: &rng)! }.joined()
        }
        return (0..<sentences).map { _ in
            let n = Int.random(in: 5...30, using: &rng)
            return (0..<n).map { _ in
                // Rank r with probability about 1/r.
                let r = Int(exp(Double.random(in: 0..<log(Double(words.count)), using: &rng)))
                return words[min(r, words.count - 1)]
            }.joined(separator: " ") + "."
        }
    }

    func testSpeedSyntheticCorpus() {
        let corpus = syntheticCorpus(sentences: 20_000)
        let words = corpus.reduce(0) { $0 + $1.split(separator: " ").count }
        let (counts, tc) = time { BPELearner.countPieces(corpus) }
        let (model, tl) = time { BPELearner.learn(counts: counts, options: BPEOptions(merges: 8000)) }
        let tok = BPETokenizer(model: model)
        let (ids, te) = time { corpus.map { tok.encode($0) } }
        let subwords = ids.reduce(0) { $0 + $1.count }
        print(String(format: "BPE speed (synthetic, %d sentences, %d words, %d distinct pieces): count %.2f s, %d merges %.2f s, encode %.2f s, %.1f subwords/sentence",
                     corpus.count, words, counts.count, tc, model.merges.count, tl, te, Double(subwords) / Double(corpus.count)))
    }

    func testSpeedRealCorpus() throws {
        guard let path = ProcessInfo.processInfo.environment["DLSERVE_BPE_CORPUS"] else {
            throw XCTSkip("set DLSERVE_BPE_CORPUS to a train.tsv to time BPE on it")
        }
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        let pairs = lines.compactMap { line -> (source: String, target: String)? in
            let p = line.split(separator: "\t", maxSplits: 1)
            return p.count == 2 ? (String(p[0]), String(p[1])) : nil
        }
        let words = pairs.reduce(0) { $0 + $1.source.split(separator: " ").count + $1.target.split(separator: " ").count }
        print("BPE corpus \(path): \(pairs.count) pairs, \(words) words")
        let (counts, tc) = time { BPELearner.countPieces(pairs.map(\.source) + pairs.map(\.target)) }
        for merges in [8000, 16000] {
            let (_, tl) = time { BPELearner.learn(counts: counts, options: BPEOptions(merges: merges)) }
            print(String(format: "  shared: count pieces %.2f s (%d distinct), %d merges %.2f s", tc, counts.count, merges, tl))
        }
        for merges in [8000, 16000] {
            for shared in [true, false] {
                let (subwords, t) = time { TranslationSubwords.learn(pairs, shared: shared, options: BPEOptions(merges: merges)) }
                let (en, es) = (pairs.map { subwords.source.encode($0.source).count }, pairs.map { subwords.target.encode($0.target).count })
                let ok = pairs.prefix(2000).allSatisfy { subwords.target.decode(subwords.target.encode($0.target)) == SubwordPreTokenizer.normalize($0.target) }
                print(String(format: "  %5d merges %@: learn %.1f s, vocab %@, subwords/sentence en %.1f es %.1f, words/sentence en %.1f es %.1f, round trip %@",
                             merges, shared ? "shared  " : "separate", t,
                             shared ? "\(subwords.source.model.count)" : "\(subwords.source.model.count)/\(subwords.target.model.count)",
                             Double(en.reduce(0, +)) / Double(pairs.count), Double(es.reduce(0, +)) / Double(pairs.count),
                             Double(pairs.reduce(0) { $0 + $1.source.split(separator: " ").count }) / Double(pairs.count),
                             Double(pairs.reduce(0) { $0 + $1.target.split(separator: " ").count }) / Double(pairs.count),
                             ok ? "ok" : "FAILED"))
            }
        }
    }
}
