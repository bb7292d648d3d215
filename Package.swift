// swift-tools-version:6.1
import PackageDescription

// Elementwise kernels use Swift SIMD; without a CPU target, fused multiply-add
// compiles to library calls. CI and developers run on haswell-class CPUs (AVX2 + FMA).
#if arch(x86_64)
let cpuFlags: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
#else
let cpuFlags: [SwiftSetting] = []
#endif
let engineSettings: [SwiftSetting] = cpuFlags + [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]

let package = Package(
    name: "dlserve",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "dlserve", targets: ["dlserve"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Kernels: the only place that calls BLAS or runs SIMD loops.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .target(name: "DLKernels", dependencies: ["CBLAS"], swiftSettings: engineSettings),
        // Tensors and reverse-mode autodiff.
        .target(name: "DLTensor", dependencies: ["DLKernels"], swiftSettings: engineSettings),
        // Layers, losses, initializers, model graphs and checkpoints.
        .target(name: "DLNN", dependencies: ["DLTensor", "DLKernels"], swiftSettings: engineSettings),
        // Optimizers, schedules, datasets, the training loop and recipes.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "DLTrain", dependencies: ["DLNN", "DLTensor", "DLKernels", "CZlib"], swiftSettings: engineSettings),
        // The executable.
        .executableTarget(
            name: "dlserve",
            dependencies: [
                "DLTrain", "DLNN", "DLTensor", "DLKernels",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: cpuFlags
        ),
        // Test support.
        .target(name: "DLTesting", dependencies: ["DLTensor"], path: "Sources/DLTesting"),
        .testTarget(name: "DLTensorTests", dependencies: ["DLTensor", "DLKernels", "DLTesting"]),
        .testTarget(name: "DLNNTests", dependencies: ["DLNN", "DLTensor", "DLTesting"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DLTrainTests", dependencies: ["DLTrain", "DLNN", "DLTensor", "DLTesting"], resources: [.copy("Fixtures")]),
        .testTarget(name: "dlserveTests", dependencies: ["dlserve", "DLTrain", "DLNN", "DLTensor"]),
    ],
    swiftLanguageModes: [.v5]
)
