// swift-tools-version:6.1
import PackageDescription

// Elementwise kernels use Swift SIMD; without a CPU target, fused multiply-add
// compiles to library calls. CI and developers run on haswell-class CPUs (AVX2 + FMA).
#if arch(x86_64)
let cpuFlags: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
#else
let cpuFlags: [SwiftSetting] = []
#endif
// The engine is optimized in debug builds too, so `swift test` (debug) trains and
// evaluates real networks at full speed while the server stack builds quickly.
let engineSettings: [SwiftSetting] = cpuFlags + [
    .unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
    .unsafeFlags(["-O"], .when(configuration: .debug)),
]

let package = Package(
    name: "dlserve",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "dlserve", targets: ["dlserve"]),
        .executable(name: "dlserve-bench", targets: ["dlserve-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
    ],
    targets: [
        // Kernels: the only place that calls BLAS or runs SIMD loops.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .target(name: "DLKernels", dependencies: ["CBLAS"], swiftSettings: engineSettings),
        // Tensors and reverse-mode autodiff.
        .target(name: "DLTensor", dependencies: ["DLKernels"], swiftSettings: engineSettings),
        // Layers, losses, initializers, model graphs and checkpoints.
        .target(name: "DLNN", dependencies: ["DLTensor", "DLKernels"], swiftSettings: engineSettings),
        // Text: tokenizer, vocabulary, labelled text files (no engine dependency).
        .target(name: "DLText"),
        // Optimizers, schedules, datasets, the training loop and recipes.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "DLTrain", dependencies: ["DLNN", "DLTensor", "DLKernels", "DLText", "DLVision", "CZlib"], swiftSettings: engineSettings),
        // Image decoding (libpng, libjpeg-turbo through a setjmp/longjmp C shim) and preprocessing.
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg62-turbo-dev"])]),
        .target(name: "CImageCodecs", dependencies: ["CPNG", "CJPEG"]),
        .target(name: "DLVision", dependencies: ["CImageCodecs", "DLTensor", "DLKernels"], swiftSettings: engineSettings),
        // The serving core: model manager, scheduler with dynamic batching, metrics. No HTTP here.
        .target(
            name: "DLServing",
            dependencies: [
                "DLNN", "DLTensor", "DLKernels", "DLVision", "DLText",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
            ],
            swiftSettings: cpuFlags
        ),
        // Served tasks on the serving core, one folder each (sentiment, ...).
        .target(name: "DLTasks", dependencies: ["DLServing", "DLText", "DLTensor", "DLNN", "DLKernels", "DLVision",
                                               .product(name: "GRDB", package: "GRDB.swift")], swiftSettings: cpuFlags),
        // The durable training job queue (SQLite store, worker threads, learning curves).
        .target(
            name: "DLJobs",
            dependencies: [
                "DLTrain", "DLNN", "DLKernels",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The HTTP daemon: Hummingbird app, error mapping, lifecycle, systemd notify.
        .target(
            name: "DLServe",
            dependencies: [
                "DLServing", "DLVision", "DLTensor", "DLJobs",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The executable.
        .executableTarget(
            name: "dlserve",
            dependencies: [
                "DLJobs", "DLTrain", "DLNN", "DLTensor", "DLKernels", "DLVision", "DLServe", "DLServing", "DLTasks", "DLText",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: cpuFlags
        ),
        // `make bench`: engine figures for the reference networks and the shipped sentiment model.
        .executableTarget(name: "dlserve-bench", dependencies: ["DLTrain", "DLNN", "DLTensor", "DLKernels", "DLText", "DLVision", "DLServing"], swiftSettings: engineSettings),
        // libFuzzer targets for every parser of untrusted bytes (`make fuzz`, scripts/fuzz.sh),
        // and the executable that runs them (or replays files through them).
        .target(name: "DLFuzzTargets", dependencies: [
            "DLServe", "DLServing", "DLTasks", "DLTrain", "DLNN", "DLTensor", "DLText", "DLVision",
            .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Hummingbird", package: "hummingbird"),
        ]),
        .executableTarget(name: "dlserve-fuzz", dependencies: ["DLFuzzTargets"]),
        .testTarget(name: "DLFuzzTests", dependencies: ["DLFuzzTargets"]),
        // Test support.
        .target(name: "DLTesting", dependencies: ["DLTensor"], path: "Sources/DLTesting"),
        .testTarget(name: "DLTensorTests", dependencies: ["DLTensor", "DLKernels", "DLTesting"]),
        .testTarget(name: "DLNNTests", dependencies: ["DLNN", "DLTensor", "DLTesting"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DLVisionTests", dependencies: ["DLVision", "DLTensor", "DLKernels", "DLTesting"], resources: [.copy("Fixtures")]),
        .testTarget(
            name: "DLServingTests",
            dependencies: [
                "DLServing", "DLTasks", "DLVision", "DLNN", "DLTensor", "DLKernels", "DLTesting",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
        .testTarget(name: "DLTextTests", dependencies: ["DLText"], exclude: ["Fixtures"]),
        .testTarget(name: "DLTasksTests", dependencies: ["DLTasks", "DLServing", "DLServeTesting", "DLNN", "DLText", "DLTensor"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "DLTrainTests", dependencies: ["DLTrain", "DLNN", "DLTensor", "DLKernels", "DLVision", "DLServing", "DLTesting"], resources: [.copy("Fixtures")]),
        .testTarget(name: "dlserveTests", dependencies: ["dlserve", "DLServeTesting", "DLJobsTesting", "DLTrain", "DLNN", "DLTensor", "DLText", "DLVision"]),
        .target(name: "DLJobsTesting", dependencies: ["DLJobs", "DLTrain", "DLNN", "DLVision", "DLTensor"], path: "Sources/DLJobsTesting"),
        .testTarget(name: "DLJobsTests", dependencies: ["DLJobs", "DLJobsTesting", "DLTrain", "DLNN", "DLTensor", "DLTesting", "DLText",
                                                  .product(name: "GRDB", package: "GRDB.swift")]),
        .target(
            name: "DLServeTesting",
            dependencies: [
                "DLServe", "DLServing", "DLTasks", "DLJobs", "DLNN", "DLTensor", "DLText",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
            ],
            path: "Sources/DLServeTesting"
        ),
        .testTarget(
            name: "DLServeTests",
            dependencies: ["DLServe", "DLServeTesting", "DLJobs", "DLJobsTesting", "DLTasks", "DLServing", "DLTrain", "DLText", "DLTesting",
                           .product(name: "HummingbirdTesting", package: "hummingbird")],
            resources: [.copy("Fixtures")]
        ),
    ],
    swiftLanguageModes: [.v5]
)
