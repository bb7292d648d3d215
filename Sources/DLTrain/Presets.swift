import DLNN

/// Named architectures a recipe can ask for with `{"model": {"preset": NAME}}`
/// instead of spelling out the graph. Each is built for the dataset's image
/// shape [C, H, W] and number of classes; `width` scales the channels or units
/// and `keep_prob` sets the dropout layers (1 = no dropout).
public enum ModelPreset: String, CaseIterable, Sendable {
    /// flatten, dense(width, default 256) ReLU, dropout, dense(classes).
    case mlp
    /// LeNet-5 as in the issue's benchmark (LeCun et al., 1998, with ReLU and max pooling).
    case lenet
    /// The shipped Fashion-MNIST classifier: two blocks of
    /// [conv3x3-BN-ReLU, conv3x3-BN-ReLU, maxpool2] at width and 2 * width
    /// channels (default 32), then dropout, dense(4 * width)-BN-ReLU, dropout,
    /// dense(classes).
    case fashionCNN = "fashion-cnn"

    public static var names: [String] { allCases.map(\.rawValue) }

    public func spec(inputShape: [Int], classes: Int, width: Int? = nil, keepProb: Float? = nil) -> ModelSpec {
        var layers: [LayerSpec] = []
        var last = "input"
        func add(_ name: String, _ type: String, _ attrs: [String: JSONValue] = [:]) {
            layers.append(LayerSpec(name: name, type: type, inputs: [last], attrs: attrs))
            last = name
        }
        let keep = keepProb ?? 0.5
        func dropout(_ name: String, _ k: Float) { if k < 1 { add(name, "dropout", ["keep_prob": .number(Double(k))]) } }
        switch self {
        case .mlp:
            add("flatten", "flatten")
            add("fc1", "dense", ["units": .number(Double(width ?? 256))])
            add("relu1", "relu")
            dropout("drop1", keepProb ?? 0.8)
            add("fc2", "dense", ["units": .number(Double(classes))])
        case .lenet:
            let w = Double(width ?? 6)
            add("conv1", "conv2d", ["out_channels": .number(w), "kernel_size": 5, "padding": 2])
            add("relu1", "relu")
            add("pool1", "max_pool2d", ["kernel_size": 2])
            add("conv2", "conv2d", ["out_channels": .number(w * 16 / 6), "kernel_size": 5])
            add("relu2", "relu")
            add("pool2", "max_pool2d", ["kernel_size": 2])
            add("flatten", "flatten")
            add("fc1", "dense", ["units": 120])
            add("relu3", "relu")
            add("fc2", "dense", ["units": 84])
            add("relu4", "relu")
            dropout("drop", keepProb ?? 1)
            add("fc3", "dense", ["units": .number(Double(classes))])
        case .fashionCNN:
            let w = width ?? 32
            for (block, channels) in [(1, w), (2, 2 * w)] {
                for i in 1...2 {
                    let n = "\(block)\(i == 1 ? "a" : "b")"
                    add("conv\(n)", "conv2d", ["out_channels": .number(Double(channels)), "kernel_size": 3, "padding": 1, "bias": false])
                    add("bn\(n)", "batch_norm")
                    add("relu\(n)", "relu")
                }
                add("pool\(block)", "max_pool2d", ["kernel_size": 2])
            }
            add("flatten", "flatten")
            dropout("drop1", keep)
            add("fc1", "dense", ["units": .number(Double(4 * w)), "bias": false])
            add("bn_fc1", "batch_norm")
            add("relu_fc1", "relu")
            dropout("drop2", keep)
            add("fc2", "dense", ["units": .number(Double(classes))])
        }
        return ModelSpec(inputShape: inputShape, layers: layers, output: last)
    }
}
