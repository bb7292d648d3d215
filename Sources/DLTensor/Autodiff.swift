import DLKernels

/// Whether ops record the graph for backward. Inference runs inside
/// `GradMode.withoutGrad { ... }`, which records nothing and costs nothing
/// beyond one task-local read per op.
public enum GradMode {
    @TaskLocal public static var isEnabled: Bool = true

    /// Runs `body` with recording off.
    public static func withoutGrad<T>(_ body: () throws -> T) rethrows -> T {
        try $isEnabled.withValue(false) { try body() }
    }
}

/// A recorded op: the inputs it read and the closure that turns the output's
/// gradient into gradient contributions for those inputs.
public final class Node {
    public let name: String
    public let inputs: [Tensor]
    /// Called with the output's gradient; must accumulate into `inputs[i]`'s
    /// gradient (via `Tensor.accumulateGrad`) for inputs that require it.
    let backward: ([Float]) -> Void

    init(name: String, inputs: [Tensor], backward: @escaping ([Float]) -> Void) {
        self.name = name
        self.inputs = inputs
        self.backward = backward
    }
}

extension Tensor {
    /// True when an op over `inputs` must record itself.
    @inlinable
    public static func recording(_ inputs: [Tensor]) -> Bool {
        GradMode.isEnabled && inputs.contains { $0.requiresGrad }
    }

    /// Builds an op's output and, if recording, attaches its backward closure.
    /// `backward` receives the output gradient and must call `accumulateGrad`
    /// on the inputs that `requiresGrad`.
    public static func make(
        _ name: String, shape: [Int], data: [Float], inputs: [Tensor],
        backward: @escaping ([Float]) -> Void
    ) -> Tensor {
        let out = Tensor(shape: shape, data: data)
        if recording(inputs) {
            out.requiresGrad = true
            out.node = Node(name: name, inputs: inputs, backward: backward)
        }
        return out
    }

    /// Adds `g` to this tensor's gradient (allocating it on first use).
    public func accumulateGrad(_ g: [Float]) {
        precondition(g.count == data.count, "accumulateGrad: \(g.count) values for shape \(shape)")
        guard requiresGrad else { return }
        if grad == nil {
            grad = g
        } else {
            grad!.withUnsafeMutableBufferPointer { dst in
                g.withUnsafeBufferPointer { src in
                    Kernels.accumulate(src.baseAddress!, into: dst.baseAddress!, g.count)
                }
            }
        }
    }

    /// Adds a gradient produced in place by `fill`, which receives a zeroed buffer.
    public func accumulateGrad(filling fill: (UnsafeMutableBufferPointer<Float>) -> Void) {
        guard requiresGrad else { return }
        var g = [Float](repeating: 0, count: data.count)
        g.withUnsafeMutableBufferPointer { fill($0) }
        accumulateGrad(g)
    }

    /// Reverse-mode sweep from this tensor. A scalar seeds with 1; otherwise
    /// `seed` must be given. Gradients accumulate into every tensor with
    /// `requiresGrad`; the graph is released afterwards.
    public func backward(seed: [Float]? = nil) {
        let s = seed ?? {
            precondition(count == 1, "backward: a non-scalar output \(shape) needs a seed gradient")
            return [1]
        }()
        precondition(s.count == count, "backward: seed has \(s.count) values for shape \(shape)")
        // Topological order by iterative DFS.
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (t, expanded) = stack.popLast() {
            if expanded { order.append(t); continue }
            if visited.contains(ObjectIdentifier(t)) { continue }
            visited.insert(ObjectIdentifier(t))
            stack.append((t, true))
            if let node = t.node {
                for input in node.inputs where input.requiresGrad && !visited.contains(ObjectIdentifier(input)) {
                    stack.append((input, false))
                }
            }
        }
        accumulateGrad(s)
        for t in order.reversed() {
            guard let node = t.node, let g = t.grad else { continue }
            node.backward(g)
            // Intermediate results do not keep their gradient or graph.
            t.node = nil
            t.grad = nil
        }
    }
}
