import DLTrain
import Foundation

/// The training progress bar on standard error: one line redrawn in place
/// (at most 10 times a second) on a terminal, a plain line every tenth of an
/// epoch otherwise (logs), and one line per epoch always.
///
///     epoch  3/12 [=========>          ]  420/860  loss 0.3124  acc 88.91%  1234 img/s  eta 0:35
///     epoch  3/12  train loss 0.3011 acc 89.20% | dev loss 0.2710 acc 90.12% | lr 0.00128 | 52.1 s, 1056 img/s
final class ProgressBar {
    let interactive: Bool
    let width = 24
    private var lastDraw = Date.distantPast
    private var drawn = false
    private var epochStart = Date()

    init(interactive: Bool = isatty(STDERR_FILENO) == 1) {
        self.interactive = interactive
    }

    func handle(_ event: TrainingEvent) {
        switch event {
        case .batch(let b): batch(b)
        case .epoch(let m): epoch(m)
        case .earlyStop(let e, let best):
            clear()
            printError("early stopping after epoch \(e): no better dev loss for the patience; keeping epoch \(best)")
        }
    }

    func batch(_ b: BatchProgress) {
        let now = Date()
        if b.batch == 1 { epochStart = now }
        guard interactive else {
            // Logs get a line at every tenth of an epoch instead of a redrawn bar.
            let tenth = max(1, b.batches / 10)
            if b.batch % tenth == 0 && b.batch < b.batches {
                let elapsed = now.timeIntervalSince(epochStart)
                printError(Self.barLine(b, width: width, eta: elapsed / Double(b.batch) * Double(b.batches - b.batch)))
            }
            return
        }
        guard b.batch == b.batches || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        lastDraw = now
        let elapsed = now.timeIntervalSince(epochStart)
        let eta = elapsed / Double(b.batch) * Double(b.batches - b.batch)
        printError("\r" + Self.barLine(b, width: width, eta: eta), terminator: "")
        drawn = true
    }

    func epoch(_ m: EpochMetrics) {
        clear()
        printError(Self.epochLine(m, epochs: nil))
    }

    private func clear() {
        if drawn { printError("\r\u{1B}[2K", terminator: "") }
        drawn = false
    }

    static func barLine(_ b: BatchProgress, width: Int, eta: Double) -> String {
        let filled = Int(Double(b.batch) / Double(max(b.batches, 1)) * Double(width))
        let bar = String(repeating: "=", count: filled) + (filled < width ? ">" : "")
            + String(repeating: " ", count: max(0, width - filled - 1))
        let digits = String(b.batches).count
        return "epoch \(pad(b.epoch, String(b.epochs).count))/\(b.epochs) [\(bar)] \(pad(b.batch, digits))/\(b.batches)"
            + String(format: "  loss %.4f  acc %.2f%%  %.0f img/s  eta ", b.loss, b.accuracy * 100, b.imagesPerSecond)
            + duration(eta)
    }

    static func epochLine(_ m: EpochMetrics, epochs: Int?) -> String {
        var s = String(format: "epoch %3d  train loss %.4f acc %.2f%%", m.epoch, m.trainLoss, m.trainAccuracy * 100)
        if let l = m.devLoss, let a = m.devAccuracy { s += String(format: " | dev loss %.4f acc %.2f%%", l, a * 100) }
        s += String(format: " | lr %.3g | %.1f s, %.0f img/s", m.learningRate, m.seconds, m.imagesPerSecond)
        if let c = m.cpuSeconds { s += String(format: ", cpu %.1f s", c) }
        return s
    }

    static func pad(_ n: Int, _ width: Int) -> String {
        let s = String(n)
        return String(repeating: " ", count: max(0, width - s.count)) + s
    }

    static func duration(_ seconds: Double) -> String {
        let t = Int(seconds.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }
}
