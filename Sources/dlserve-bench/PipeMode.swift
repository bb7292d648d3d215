import DLKernels
import DLNN
import DLTensor
import Foundation

/// `dlserve-bench --pipe`: batch-1 latency on request, for a driver that
/// interleaves it with a peer in short rounds (scripts/bench/interleaved.py),
/// so that both see the same machine: this VM's speed drifts by up to 40%
/// from one second to the next.
///
/// Each line on stdin is "MODEL THREADS COUNT" (MODEL: LeNet or ResNetMini);
/// the answer is one line of COUNT latencies in milliseconds, after 10
/// warm-up runs. MODEL Sentiment runs the shipped sentiment model on the
/// test sentences one at a time (sentence 0, 1, ...; `SentimentBench`), and
/// Sentiment32 on padded batches of 32 (batch 0, 1, ...). The shipped
/// translation model (`TranslationBench`): MT1 and MT4 translate the 20-word
/// sentence alone at beam 1 and 4 (COUNT latencies), MTSet1 and MTSet4 the
/// 600 bench sentences (COUNT times, one line of seconds each), MTTrain
/// runs COUNT training steps (milliseconds each, then the tokens they held).
/// The shipped detector (`DetectionBench`): Detect1 detects in one test
/// scene at a time (COUNT latencies, ms), Detect16 in batches of 16 (COUNT
/// batch times, ms). The shipped face embedding (`FaceBench`): Embed1
/// embeds one test photo at a time (COUNT latencies, ms), Embed32 batches of
/// 32 (COUNT batch times, ms); "Identify N COUNT" times COUNT identify
/// searches of a gallery of N random identities (one thread; the gallery is
/// built once per N). EOF ends the process.
func runPipeMode() {
    var rng = SeededGenerator(seed: 7)
    var plans: [String: InferencePlan] = [:]
    for (name, spec) in [("LeNet", ReferenceNetworks.lenet), ("ResNetMini", ReferenceNetworks.resnetMini)] {
        plans[name] = try! InferencePlan(GraphModel(spec: spec, seed: 1))
    }
    let x1 = Tensor.uniform([1, 1, 28, 28], low: 0, high: 1, rng: &rng)
    let sentiment = try? SentimentBench.load().get()
    let translation = try? TranslationBench.load().get()
    let detection = try? DetectionBench.load().get()
    let faces = try? FaceBench.load().get()
    let identify = IdentifyBench()
    while let line = readLine() {
        let parts = line.split(separator: " ")
        if parts.count == 3, parts[0].hasPrefix("Embed"), let faces, let threads = Int(parts[1]),
           let count = Int(parts[2]), (1...64).contains(threads), (1...100_000).contains(count) {
            Kernels.setBLASThreads(threads)
            let ms = parts[0] == "Embed32" ? faces.batchTimes(count) : faces.latencies(count)
            print(ms.map { String(format: "%.4f", $0) }.joined(separator: " "))
            fflush(stdout)
            continue
        }
        if parts.count == 3, parts[0] == "Identify", let n = Int(parts[1]), let count = Int(parts[2]),
           (1...10_000_000).contains(n), (1...100_000).contains(count) {
            print(identify.latencies(n, count: count).map { String(format: "%.4f", $0) }.joined(separator: " "))
            fflush(stdout)
            continue
        }
        if parts.count == 3, parts[0].hasPrefix("Detect"), let detection, let threads = Int(parts[1]),
           let count = Int(parts[2]), (1...64).contains(threads), (1...100_000).contains(count) {
            Kernels.setBLASThreads(threads)
            let ms = parts[0] == "Detect16" ? detection.batchTimes(count) : detection.latencies(count)
            print(ms.map { String(format: "%.4f", $0) }.joined(separator: " "))
            fflush(stdout)
            continue
        }
        if parts.count == 3, parts[0].hasPrefix("MT"), let translation, let threads = Int(parts[1]),
           let count = Int(parts[2]), (1...64).contains(threads), (1...100_000).contains(count) {
            Kernels.setBLASThreads(threads)
            let values: [Double]
            switch parts[0] {
            case "MT1": values = translation.latencies(beam: 1, count: count)
            case "MT4": values = translation.latencies(beam: 4, count: count)
            case "MTSet1": values = (0..<count).map { _ in translation.setSeconds(beam: 1) }
            case "MTSet4": values = (0..<count).map { _ in translation.setSeconds(beam: 4) }
            case "MTTrain":
                let (ms, tokens) = translation.trainSteps(count)
                values = ms + [Double(tokens)]
            default: values = []
            }
            print(values.isEmpty ? "error: unknown command \(parts[0])" : values.map { String(format: "%.4f", $0) }.joined(separator: " "))
            fflush(stdout)
            continue
        }
        if parts.count == 3, parts[0].hasPrefix("Sentiment"), let sentiment, let threads = Int(parts[1]),
           let count = Int(parts[2]), (1...64).contains(threads), (1...100_000).contains(count) {
            Kernels.setBLASThreads(threads)
            let ms = parts[0] == "Sentiment32" ? sentiment.batchTimes(count) : sentiment.latencies(count)
            print(ms.map { String(format: "%.4f", $0) }.joined(separator: " "))
            fflush(stdout)
            continue
        }
        guard parts.count == 3, let plan = plans[String(parts[0])], let threads = Int(parts[1]), let count = Int(parts[2]),
              (1...64).contains(threads), (1...100_000).contains(count)
        else {
            print("error: expected MODEL THREADS COUNT, got \(line)")
            fflush(stdout)
            continue
        }
        Kernels.setBLASThreads(threads)
        for _ in 0..<10 { _ = plan.run(x1) }
        var lat: [String] = []
        lat.reserveCapacity(count)
        for _ in 0..<count {
            let t = DispatchTime.now().uptimeNanoseconds
            _ = plan.run(x1)
            lat.append(String(format: "%.4f", Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6))
        }
        print(lat.joined(separator: " "))
        fflush(stdout)
    }
}
