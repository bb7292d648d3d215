import DLKernels
import DLNN
import DLTensor
import DLTrain
import Foundation

// `make bench`: training throughput (batch 64, Adam) and inference latency
// (batch 1: median, p99) and throughput (batch 64) of the two reference
// networks, then the shipped sentiment model's batch-1 latency and batch-32
// throughput, with 1 and 2 BLAS/kernel threads. Figures only; nothing fails on time.

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

func percentile(_ xs: [Double], _ p: Double) -> Double {
    let s = xs.sorted()
    return s[min(s.count - 1, Int(p * Double(s.count)))]
}

if CommandLine.arguments.contains("--sentiment-inputs") {
    switch SentimentBench.load() {
    case .success(let bench): print(bench.inputsJSON())
    case .failure(let error): fputs("dlserve-bench: sentiment model: \(error)\n", stderr); exit(1)
    }
    exit(0)
}

if CommandLine.arguments.contains("--translation-inputs") {
    switch TranslationBench.load() {
    case .success(let bench): print(bench.inputsJSON())
    case .failure(let error): fputs("dlserve-bench: translation model: \(error)\n", stderr); exit(1)
    }
    exit(0)
}

if CommandLine.arguments.contains("--detection-outputs") {
    switch DetectionBench.load() {
    case .success(let bench): print(bench.detectionsJSON())
    case .failure(let error): fputs("dlserve-bench: detection model: \(error)\n", stderr); exit(1)
    }
    exit(0)
}

if CommandLine.arguments.contains("--face-embeddings") {
    switch FaceBench.load() {
    case .success(let bench): print(bench.embeddingsJSON())
    case .failure(let error): fputs("dlserve-bench: face model: \(error)\n", stderr); exit(1)
    }
    exit(0)
}

if CommandLine.arguments.contains("--pipe") {
    Kernels.keepFreedMemoryForReuse()
    runPipeMode()
    exit(0)
}

// For profiling one part: DLSERVE_BENCH_MODELS=ResNetMini DLSERVE_BENCH_THREADS=1.
let env = ProcessInfo.processInfo.environment
let onlyModels = env["DLSERVE_BENCH_MODELS"].map { Set($0.split(separator: ",").map(String.init)) }
let onlyThreads = env["DLSERVE_BENCH_THREADS"].map { Set($0.split(separator: ",").compactMap { Int($0) }) }
let skipTraining = env["DLSERVE_BENCH_SKIP_TRAINING"] != nil
// DLSERVE_BENCH_STEPS=1: also the median time of each plan step at batch 1.
let profileSteps = env["DLSERVE_BENCH_STEPS"] != nil
var stepProfiles: [String] = []

// As `dlserve train` does: freed buffers stay in the heap for the next step.
Kernels.keepFreedMemoryForReuse()
var rng = SeededGenerator(seed: 7)
print("dlserve engine benchmark (\(ProcessInfo.processInfo.activeProcessorCount) cores)")
print("model        threads  train img/s  b1 median ms  b1 p99 ms  b64 img/s")
for (name, spec) in [("LeNet", ReferenceNetworks.lenet), ("ResNetMini", ReferenceNetworks.resnetMini)] {
    guard onlyModels?.contains(name) ?? true else { continue }
    for threads in [1, 2] where onlyThreads?.contains(threads) ?? true {
        Kernels.setBLASThreads(threads)
        let model = try GraphModel(spec: spec, seed: 1)
        let params = model.namedParameters
        let opt = Optimizer(rule: Adam(), learningRate: 1e-3)
        let x64 = Tensor.uniform([64, 1, 28, 28], low: 0, high: 1, rng: &rng)
        let labels = (0..<64).map { $0 % 10 }
        let ctx = ForwardContext(training: true, seed: 3)
        func trainStep() {
            let loss = softmaxCrossEntropy(logits: model(x64, ctx), labels: labels)
            loss.backward()
            opt.step(params)
        }
        if !skipTraining { for _ in 0..<3 { trainStep() } }
        let steps = skipTraining ? 0 : name == "LeNet" ? 60 : 12
        var t = now()
        for _ in 0..<steps { trainStep() }
        let trainIPS = Double(steps * 64) / (now() - t)

        // Inference as the daemon runs it: the compiled plan (batch norm folded, activations fused).
        let plan = InferencePlan(model)
        let x1 = Tensor.uniform([1, 1, 28, 28], low: 0, high: 1, rng: &rng)
        for _ in 0..<50 { _ = plan.run(x1) }
        var lat: [Double] = []
        for _ in 0..<(name == "LeNet" ? 2000 : 500) {
            t = now()
            _ = plan.run(x1)
            lat.append((now() - t) * 1e3)
        }
        _ = plan.run(x64)
        let reps = name == "LeNet" ? 80 : 20
        t = now()
        for _ in 0..<reps { _ = plan.run(x64) }
        let inferIPS = Double(reps * 64) / (now() - t)
        print(String(format: "%-12@ %7d  %11.0f  %12.3f  %9.3f  %9.0f", name as NSString, threads, trainIPS,
                     percentile(lat, 0.5), percentile(lat, 0.99), inferIPS))
        if profileSteps {
            stepProfiles.append("\(name), \(threads) thread(s), batch 1, median ms per step:")
            let profile = plan.profileSteps(x1, repeats: 300)
            var again: [Double] = []
            for _ in 0..<500 { let t0 = now(); _ = plan.run(x1); again.append((now() - t0) * 1e3) }
            stepProfiles.append(String(format: "  %8.4f  run() median after the profile", percentile(again, 0.5)))
            stepProfiles.append(String(format: "  %8.4f  sum of the medians", profile.reduce(0) { $0 + $1.milliseconds }))
            for (step, ms) in profile {
                stepProfiles.append(String(format: "  %8.4f  %@", ms, step as NSString))
            }
        }
    }
}
stepProfiles.forEach { print($0) }

// The shipped sentiment model, as the daemon serves it (GraphModel.infer).
if onlyModels?.contains("Sentiment") ?? true {
    switch SentimentBench.load() {
    case .failure(let error):
        print("sentiment-rt: skipped (\(error)); `make data-sentiment` writes the test split")
    case .success(let bench):
        print(String(format: "sentiment-rt (%d test sentences, mean %.1f tokens), inference", bench.texts.count, bench.meanLength))
        print("model        threads  b1 median ms  b1 p99 ms  b32 texts/s")
        for threads in [1, 2] where onlyThreads?.contains(threads) ?? true {
            Kernels.setBLASThreads(threads)
            let lat = bench.latencies(2000)
            let batches = bench.batchTimes(60)
            let tps = Double(batches.count * SentimentBench.batch) / (batches.reduce(0, +) / 1e3)
            print(String(format: "%-12@ %7d  %12.3f  %9.3f  %11.0f", "sentiment-rt" as NSString, threads,
                         percentile(lat, 0.5), percentile(lat, 0.99), tps))
        }
    }
}
