import DLServing
import DLJobs
import Foundation
import Hummingbird

/// Training jobs (all behind the bearer token when one is configured):
///
///     POST   /v1/jobs                  submit a recipe -> 202, Location
///     GET    /v1/jobs                  ?state=&limit=&cursor=
///     GET    /v1/jobs/{id}
///     DELETE /v1/jobs/{id}             cancel (202 while a running job stops)
///     GET    /v1/jobs/{id}/events      Server-Sent Events, Last-Event-ID
///     GET    /v1/jobs/{id}/curves.svg  learning curves
extension ServeAPI {
    func addJobRoutes(to router: Router<ServeRequestContext>, jobs: JobController) {
        let group = router.group("/v1/jobs").add(middleware: BearerTokenMiddleware(token: settings.bearerToken))
        group.post { request, context in
            let body = try await RequestDecoding.body(request, limit: min(settings.maxBodyBytes, 1 << 20))
            let job = try await jobs.submit(Data(body.readableBytesView))
            context.logger.notice("job submitted", metadata: ["job": "\(job.id)", "model": "\(job.model)"])
            return try JobController.json(job, status: .accepted, headers: [.location: job.links.`self`])
        }
        group.get { request, _ in
            let q = request.uri.queryParameters
            return try JobController.json(try await jobs.list(
                state: q["state"].map(String.init), limit: q["limit"].map(String.init), cursor: q["cursor"].map(String.init)))
        }
        group.get(":id") { _, context in
            try JobController.json(try await jobs.job(try Self.jobID(context)))
        }
        group.delete(":id") { _, context in
            let job = try await jobs.cancel(try Self.jobID(context))
            context.logger.notice("job cancel requested", metadata: ["job": "\(job.id)", "state": "\(job.state.rawValue)"])
            // 202: a running job is still stopping; 200: it is cancelled.
            return try JobController.json(job, status: job.state == .running ? .accepted : .ok)
        }
        group.get(":id/events") { request, context in
            let lastEventID = request.headers[.init("Last-Event-ID")!] ?? request.uri.queryParameters["last_event_id"].map(String.init)
            let stream = try await jobs.events(try Self.jobID(context), lastEventID: lastEventID)
            return Response(
                status: .ok,
                headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache",
                          .init("X-Accel-Buffering")!: "no"],
                body: ResponseBody(asyncSequence: stream))
        }
        group.get(":id/curves.svg") { _, context in
            let svg = try await jobs.curves(try Self.jobID(context))
            return Response(status: .ok, headers: [.contentType: "image/svg+xml; charset=utf-8", .cacheControl: "no-cache"],
                            body: .init(byteBuffer: ByteBuffer(string: svg)))
        }
    }

    static func jobID(_ context: ServeRequestContext) throws -> String {
        guard let id = context.parameters.get("id"), !id.isEmpty else { throw ServingError.badRequest("missing job id") }
        return id
    }
}
