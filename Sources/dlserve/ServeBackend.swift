import DLServe
import Logging

/// The serving engine behind `dlserve serve`.
func makeBackend(settings: ServeSettings, metrics: ServeMetrics, logger: Logger) throws -> any ServingBackend {
    EngineBackend(settings: settings, metrics: metrics, logger: logger)
}
