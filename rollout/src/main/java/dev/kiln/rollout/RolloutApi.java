package dev.kiln.rollout;

import dev.kiln.core.json.Json;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import java.io.IOException;

/**
 * kiln serve's operator API for rollouts, under /rollouts (the operator credential is checked by
 * kiln serve before this runs):
 *
 * <pre>
 * GET  /rollouts                     every rollout, newest first
 * POST /rollouts/plan                {cluster, to, maxUnavailable, ...} -> the plan (read-only)
 * POST /rollouts                     a plan -> the started rollout (409: blocked, stale, or busy)
 * GET  /rollouts/ID                  its state, nodes and the newest 200 events (?events=all: all)
 * POST /rollouts/ID/pause|resume|abort[?back=true]|rollback
 * POST /rollouts/pools/plan          {cluster, pool, to, maxUnavailable, strategy} -> a pool plan
 * POST /rollouts/pools               a pool plan -> the started pool rollout
 * </pre>
 */
final class RolloutApi implements Handler {
    private final RolloutController controller;

    RolloutApi(RolloutController controller) {
        this.controller = controller;
    }

    @Override
    public void handle(Context ctx) throws Exception {
        String path = ctx.path().replaceAll("/+$", "");
        String[] parts =
                path.substring("/rollouts".length()).replaceFirst("^/", "").split("/");
        boolean post = "POST".equals(ctx.method().name());
        try {
            if (parts.length == 2 && parts[0].equals("pools") && parts[1].equals("plan") && post) {
                PoolPlanRequest req = read(
                        ctx,
                        PoolPlanRequest.class,
                        "{\"cluster\": \"NAME\", \"pool\": \"POOL\", \"to\": \"NAME:VERSION\"}");
                json(ctx, 200, controller.planPool(req));
            } else if (parts.length == 1 && parts[0].equals("pools") && post) {
                PoolPlan plan = read(ctx, PoolPlan.class, "a pool plan (kiln rollout plan --pool -o plan.json)");
                json(ctx, 201, controller.applyPool(plan));
            } else if (parts.length == 1 && parts[0].isEmpty()) {
                if (post) {
                    Plan plan = read(ctx, Plan.class, "a plan (kiln rollout plan -o plan.json)");
                    json(ctx, 201, controller.apply(plan));
                } else {
                    json(ctx, 200, controller.list());
                }
            } else if (parts.length == 1 && parts[0].equals("plan") && post) {
                PlanRequest req = read(ctx, PlanRequest.class, "{\"cluster\": \"NAME\", \"to\": \"NAME:VERSION\"}");
                json(ctx, 200, controller.plan(req));
            } else if (parts.length == 1 && !post) {
                RolloutState s = controller.status(parts[0]);
                json(ctx, 200, "all".equals(ctx.queryParam("events")) ? s : s.newestEvents(RolloutState.EVENTS_SHOWN));
            } else if (parts.length == 2 && post) {
                String id = parts[0];
                switch (parts[1]) {
                    case "pause" -> json(ctx, 200, controller.pause(id));
                    case "resume" -> json(ctx, 200, controller.resume(id));
                    case "abort" -> json(ctx, 200, controller.abort(id, "true".equals(ctx.queryParam("back"))));
                    case "rollback" -> json(ctx, 201, controller.rollback(id));
                    default -> error(ctx, 404, "no action " + parts[1] + "; expected pause, resume, abort or rollback");
                }
            } else {
                error(ctx, 404, "no such rollout endpoint: " + ctx.method() + " " + path);
            }
        } catch (RolloutController.Refused e) {
            error(ctx, e.status(), e.getMessage());
        } catch (IllegalArgumentException e) {
            error(ctx, 400, e.getMessage());
        }
    }

    private static <T> T read(Context ctx, Class<T> type, String expected) {
        try {
            T value = Json.MAPPER.readValue(ctx.bodyAsBytes(), type);
            if (value == null) {
                throw new IllegalArgumentException("expected " + expected);
            }
            return value;
        } catch (IOException e) {
            throw new IllegalArgumentException(ctx.path() + ": expected " + expected + ": "
                    + e.getMessage().lines().findFirst().orElse(""));
        }
    }

    private static void json(Context ctx, int status, Object value) throws IOException {
        ctx.status(status).contentType("application/json").result(Json.MAPPER.writeValueAsBytes(value));
    }

    private static void error(Context ctx, int status, String message) throws IOException {
        json(ctx, status, java.util.Map.of("error", message));
    }
}
