import DLNN

/// The two reference networks of the engine benchmark (issue 2), input 1x28x28.
enum ReferenceNetworks {
    /// LeNet: Conv(1->6, 5x5, pad 2) ReLU MaxPool2, Conv(6->16, 5x5) ReLU MaxPool2,
    /// Flatten, Dense(400->120) ReLU, Dense(120->84) ReLU, Dense(84->10).
    static var lenet: ModelSpec {
        var g = GraphBuilder()
        g.add("conv1", "conv2d", ["out_channels": 6, "kernel_size": 5, "padding": 2])
        g.add("relu1", "relu")
        g.add("pool1", "max_pool2d", ["kernel_size": 2])
        g.add("conv2", "conv2d", ["out_channels": 16, "kernel_size": 5])
        g.add("relu2", "relu")
        g.add("pool2", "max_pool2d", ["kernel_size": 2])
        g.add("flatten", "flatten")
        g.add("fc1", "dense", ["units": 120])
        g.add("relu3", "relu")
        g.add("fc2", "dense", ["units": 84])
        g.add("relu4", "relu")
        g.add("fc3", "dense", ["units": 10])
        return ModelSpec(inputShape: [1, 28, 28], layers: g.layers)
    }

    /// ResNetMini: Conv(1->32, 3x3, pad 1) BN ReLU; two basic residual blocks at
    /// 32; a downsampling block to 64 at stride 2 with a 1x1-projection
    /// shortcut; one more basic block at 64; global average pooling; Dense(64->10).
    static var resnetMini: ModelSpec {
        var g = GraphBuilder()
        g.add("stem", "conv2d", ["out_channels": 32, "kernel_size": 3, "padding": 1, "bias": false])
        g.add("stem_bn", "batch_norm")
        g.add("stem_relu", "relu")
        g.basicBlock("b1", channels: 32)
        g.basicBlock("b2", channels: 32)
        g.basicBlock("b3", channels: 64, stride: 2)
        g.basicBlock("b4", channels: 64)
        g.add("gap", "global_avg_pool")
        g.add("fc", "dense", ["units": 10])
        return ModelSpec(inputShape: [1, 28, 28], layers: g.layers)
    }
}

/// Appends nodes to a graph, each reading the previous one unless told otherwise.
struct GraphBuilder {
    var layers: [LayerSpec] = []
    var last = "input"

    mutating func add(_ name: String, _ type: String, _ attrs: [String: JSONValue] = [:], inputs: [String]? = nil) {
        layers.append(LayerSpec(name: name, type: type, inputs: inputs ?? [last], attrs: attrs))
        last = name
    }

    /// conv3x3-BN-ReLU-conv3x3-BN + shortcut, ReLU (He et al., 2016).
    mutating func basicBlock(_ p: String, channels c: Int, stride: Int = 1) {
        let entry = last
        let conv: [String: JSONValue] = ["out_channels": .number(Double(c)), "kernel_size": 3, "padding": 1, "bias": false]
        var first = conv
        first["stride"] = .number(Double(stride))
        add("\(p)_conv1", "conv2d", first)
        add("\(p)_bn1", "batch_norm")
        add("\(p)_relu1", "relu")
        add("\(p)_conv2", "conv2d", conv)
        add("\(p)_bn2", "batch_norm")
        var shortcut = entry
        if stride != 1 {
            add("\(p)_proj", "conv2d", ["out_channels": .number(Double(c)), "kernel_size": 1, "stride": .number(Double(stride)), "bias": false], inputs: [entry])
            add("\(p)_proj_bn", "batch_norm")
            shortcut = last
        }
        add("\(p)_add", "add", inputs: ["\(p)_bn2", shortcut])
        add("\(p)_relu2", "relu")
    }
}
