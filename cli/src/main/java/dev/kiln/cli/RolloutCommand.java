package dev.kiln.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.core.json.Json;
import dev.kiln.rollout.Plan;
import dev.kiln.rollout.PlanRequest;
import dev.kiln.rollout.PoolPlan;
import dev.kiln.rollout.PoolPlanRequest;
import dev.kiln.rollout.RolloutState;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** kiln rollout: plans and runs node replacement through the controller inside kiln serve. */
@Command(
        name = "rollout",
        mixinStandardHelpOptions = true,
        description = {
            "Moves a cluster's nodes onto a new version by replacing them, never by",
            "patching. The controller runs inside kiln serve (a rollout goes on when",
            "this terminal closes); these commands talk to its operator API."
        },
        footer = {
            "",
            "Examples:",
            "  kiln rollout plan --cluster prod-a --to debian-node@prod --max-unavailable 10%% -o plan.json",
            "  kiln rollout apply plan.json --watch",
            "  kiln rollout status --watch",
            "  kiln rollout rollback prod-a-20261130-101500"
        },
        subcommands = {
            RolloutCommand.PlanCmd.class,
            RolloutCommand.Apply.class,
            RolloutCommand.Status.class,
            RolloutCommand.ListCmd.class,
            RolloutCommand.Pause.class,
            RolloutCommand.Resume.class,
            RolloutCommand.Abort.class,
            RolloutCommand.Rollback.class
        })
final class RolloutCommand {
    private RolloutCommand() {}

    /** What plan and apply-with-flags take. */
    static final class PlanOptions {
        @Option(names = "--cluster", paramLabel = "NAME", description = "The inventory cluster.")
        String cluster;

        @Option(
                names = "--to",
                paramLabel = "NAME:VERSION|NAME@ENV",
                description = "Target version (default: each node's version in the inventory).")
        String to;

        @Option(
                names = "--max-unavailable",
                paramLabel = "N|P%",
                description = "Nodes that may be down at once, counting nodes already down (default: 1).")
        String maxUnavailable;

        @Option(
                names = "--on-failure",
                paramLabel = "rollback|halt",
                description = "What happens to a node that fails (default: rollback, to its previous version).")
        String onFailure;

        @Option(
                names = "--drain-timeout",
                paramLabel = "SECONDS",
                description = "How long a drain blocked by PodDisruptionBudgets is retried before the node is"
                        + " skipped and retried at the end (default: 300).")
        Long drainTimeout;

        @Option(
                names = "--node-timeout",
                paramLabel = "SECONDS",
                description = "How long a replaced node has to report its target, ready (default: 900).")
        Long nodeTimeout;

        @Option(names = "--force-drain", description = "Evict past PodDisruptionBudgets when the drain times out.")
        boolean forceDrain;

        @Option(names = "--allow-unvalidated", description = "Allow a target no kiln validate run passed.")
        boolean allowUnvalidated;

        PlanRequest request() {
            if (cluster == null) {
                throw new IllegalArgumentException("--cluster: expected the name of an inventory cluster");
            }
            return new PlanRequest(
                    cluster, to, maxUnavailable, onFailure, drainTimeout, nodeTimeout, forceDrain, allowUnvalidated);
        }
    }

    @Command(
            name = "plan",
            mixinStandardHelpOptions = true,
            description = {
                "Shows what a rollout would do, touching nothing: batches in order",
                "(masters one at a time, then workers within the budget), each node's",
                "from -> to, what each step waits for, an estimate from measured boot",
                "times, and every blocker found now (unhealthy cluster, quorum at",
                "risk, unreachable BMC, target revoked or not validated). Exits 1 when",
                "blocked. The plan carries a hash of the fleet state it saw: applying",
                "a stale plan is refused."
            },
            footer = {
                "",
                "Examples:",
                "  kiln rollout plan --cluster lab --to debian-node:1.0.1-20261130.1 -o plan.json",
                "  kiln rollout plan --cluster cloud --pool workers-a --to debian-node:1.0.1 --max-unavailable 25%% -o p.json"
            })
    static final class PlanCmd implements Callable<Integer> {
        @Mixin
        ServeClient serve;

        @Mixin
        PlanOptions opts;

        @Option(
                names = {"-o", "--output"},
                paramLabel = "FILE",
                description = "Also write the plan (for apply).")
        Path output;

        @Option(names = "--json", description = "Print the plan as JSON.")
        boolean json;

        @Option(
                names = {"-v", "--verbose"},
                description = "Show what each node's steps wait for.")
        boolean verbose;

        @Option(
                names = "--pool",
                paramLabel = "POOL",
                description = "Roll this Auto Scaling worker pool of the cluster (its aws.pools entry) instead of"
                        + " its nodes; --to NAME:VERSION is required.")
        String pool;

        @Option(
                names = "--strategy",
                paramLabel = "kiln|instance-refresh",
                description = "With --pool: kiln replaces the instances in budgeted batches (default), or AWS's"
                        + " instance refresh does.")
        String strategy;

        @Override
        public Integer call() throws Exception {
            if (pool != null) {
                return planPool();
            }
            if (strategy != null) {
                throw new IllegalArgumentException("--strategy goes with --pool");
            }
            Plan plan = plan(serve, opts.request());
            if (output != null) {
                Files.write(output, Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(plan));
            }
            if (json) {
                Format.json(plan);
            } else {
                print(plan, verbose);
                if (output != null) {
                    System.out.println("plan written to " + output + " (kiln rollout apply " + output + ")");
                }
            }
            return plan.blocked() ? 1 : 0;
        }

        private int planPool() throws IOException, InterruptedException {
            PoolPlanRequest req =
                    new PoolPlanRequest(opts.cluster, pool, opts.to, opts.maxUnavailable, strategy, opts.nodeTimeout);
            ServeClient.Reply r = serve.post("/rollouts/pools/plan", req);
            if (r.status() != 200) {
                throw new IOException("kiln serve refused the plan: " + r.error());
            }
            PoolPlan plan = Json.MAPPER.readValue(r.body(), PoolPlan.class);
            if (output != null) {
                Files.write(output, Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(plan));
            }
            if (json) {
                Format.json(plan);
                return plan.blocked() ? 1 : 0;
            }
            System.out.println("pool rollout plan for " + plan.pool() + " (group " + plan.group() + ", cluster "
                    + plan.cluster() + "): to " + plan.target() + " = " + dash(plan.toAmi()) + ", from template"
                    + " version " + plan.fromTemplateVersion() + " (" + dash(plan.fromAmi()) + "), "
                    + plan.strategy() + ", max unavailable " + plan.maxUnavailable() + " (" + plan.budget() + ")");
            List<String[]> rows = new ArrayList<>();
            rows.add(new String[] {"BATCH", "INSTANCE"});
            for (int i = 0; i < plan.batches().size(); i++) {
                for (String id : plan.batches().get(i)) {
                    rows.add(new String[] {String.valueOf(i + 1), id});
                }
            }
            if (plan.batches().isEmpty()) {
                System.out.println("nothing to replace: every instance runs the target AMI");
            } else {
                Format.table(rows).forEach(System.out::println);
            }
            plan.notes().forEach(n -> System.out.println("note: " + n));
            if (plan.blocked()) {
                System.out.println("BLOCKED:");
                plan.blockers().forEach(b -> System.out.println("  - " + b));
            } else if (output != null) {
                System.out.println("plan written to " + output + " (kiln rollout apply " + output + ")");
            }
            return plan.blocked() ? 1 : 0;
        }
    }

    static Plan plan(ServeClient serve, PlanRequest req) throws IOException, InterruptedException {
        ServeClient.Reply r = serve.post("/rollouts/plan", req);
        if (r.status() != 200) {
            throw new IOException("kiln serve refused the plan: " + r.error());
        }
        return Json.MAPPER.readValue(r.body(), Plan.class);
    }

    static void print(Plan plan, boolean verbose) {
        System.out.println("rollout plan for cluster " + plan.cluster() + ": to " + plan.target() + " (asked: "
                + plan.asked() + "), max unavailable " + plan.maxUnavailable() + " (" + plan.budget() + ")"
                + (plan.rollbackOf() == null ? "" : ", rolling back " + plan.rollbackOf()));
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"BATCH", "NODE", "ROLE", "FROM", "TO"});
        for (Plan.Batch b : plan.batches()) {
            for (Plan.Node n : b.nodes()) {
                rows.add(new String[] {String.valueOf(b.index()), n.name(), n.role(), dash(n.from()), n.to()});
            }
        }
        if (plan.batches().isEmpty()) {
            System.out.println("nothing to do: every node is on its target");
        } else {
            Format.table(rows).forEach(System.out::println);
        }
        if (verbose) {
            for (Plan.Node n : plan.nodes()) {
                System.out.println(n.name() + ":");
                n.waitsFor().forEach(w -> System.out.println("  " + w));
            }
        }
        System.out.println("estimate: " + duration(plan.estimateSeconds()));
        plan.notes().forEach(n -> System.out.println("note: " + n));
        if (plan.blocked()) {
            System.out.println("BLOCKED:");
            plan.blockers().forEach(b -> System.out.println("  - " + b));
        }
    }

    @Command(
            name = "apply",
            mixinStandardHelpOptions = true,
            description = {
                "Starts a rollout: from a plan file (refused when stale or blocked), or planned now",
                "from the same flags as plan. Each node: preflight, drain, re-point, network boot +",
                "power cycle, confirm through its own phone-home (image, kernel, ready, checks,",
                "rejoined); only then the next. A failure halts the rollout (and, by default, rolls",
                "that node back). --watch follows it until it ends."
            },
            footer = {
                "",
                "Examples:",
                "  kiln rollout apply plan.json --watch",
                "  kiln rollout apply --cluster lab --to debian-node@staging --max-unavailable 2"
            })
    static final class Apply implements Callable<Integer> {
        @Mixin
        ServeClient serve;

        @Parameters(arity = "0..1", paramLabel = "PLAN.json", description = "A plan from kiln rollout plan -o.")
        Path planFile;

        @Mixin
        PlanOptions opts;

        @Option(names = "--watch", description = "Follow the rollout until it ends; exit 1 unless it is done.")
        boolean watch;

        @Override
        public Integer call() throws Exception {
            Plan plan;
            if (planFile != null) {
                if (opts.cluster != null) {
                    throw new IllegalArgumentException("give a PLAN.json or --cluster, not both");
                }
                try {
                    if (Json.MAPPER.readTree(planFile.toFile()).hasNonNull("pool")) {
                        return applyPool(Json.MAPPER.readValue(planFile.toFile(), PoolPlan.class));
                    }
                    plan = Json.MAPPER.readValue(planFile.toFile(), Plan.class);
                } catch (IOException e) {
                    throw new IOException(planFile + ": not a plan from kiln rollout plan -o: " + e.getMessage());
                }
            } else if (opts.cluster != null) {
                plan = plan(serve, opts.request());
                print(plan, false);
                if (plan.blocked()) {
                    return 1;
                }
            } else {
                throw new IllegalArgumentException("give a PLAN.json (kiln rollout plan -o) or --cluster NAME");
            }
            ServeClient.Reply r = serve.post("/rollouts", plan);
            if (r.status() != 201) {
                System.err.println("kiln rollout: refused: " + r.error());
                return 1;
            }
            RolloutState s = Json.MAPPER.readValue(r.body(), RolloutState.class);
            System.out.println("rollout " + s.id() + " started (kiln rollout status " + s.id() + " --watch)");
            return watch ? Status.follow(serve, s.id()) : 0;
        }

        private int applyPool(PoolPlan plan) throws IOException, InterruptedException {
            ServeClient.Reply r = serve.post("/rollouts/pools", plan);
            if (r.status() != 201) {
                System.err.println("kiln rollout: refused: " + r.error());
                return 1;
            }
            RolloutState s = Json.MAPPER.readValue(r.body(), RolloutState.class);
            System.out.println("pool rollout " + s.id() + " started (kiln rollout status " + s.id() + " --watch)");
            return watch ? Status.follow(serve, s.id()) : 0;
        }
    }

    @Command(
            name = "status",
            mixinStandardHelpOptions = true,
            description = {"A rollout's state, nodes and timeline (default: the newest)."},
            footer = {"", "Example:", "  kiln rollout status --watch"})
    static final class Status implements Callable<Integer> {
        @Mixin
        ServeClient serve;

        @Parameters(arity = "0..1", paramLabel = "ID")
        String id;

        @Option(names = "--watch", description = "Print each new step until the rollout ends.")
        boolean watch;

        @Option(names = "--json", description = "Print the state as JSON.")
        boolean json;

        @Override
        public Integer call() throws Exception {
            String which = id != null ? id : newest(serve);
            if (which == null) {
                System.out.println("no rollouts");
                return 0;
            }
            if (watch) {
                return follow(serve, which);
            }
            RolloutState s = state(serve, which);
            if (json) {
                Format.json(s);
            } else {
                print(s);
            }
            return 0;
        }

        static int follow(ServeClient serve, String id) throws IOException, InterruptedException {
            long seen = 0;
            while (true) {
                RolloutState s = state(serve, id);
                for (var e : s.events()) {
                    if (e.seq() > seen) {
                        System.out.println(e.at() + "  " + e.type() + (e.step() == null ? "" : " " + e.step())
                                + (e.node() == null ? "" : " " + e.node())
                                + (e.detail() == null ? "" : ": " + e.detail()));
                        seen = e.seq();
                    }
                }
                if (!s.active()) {
                    System.out.println(
                            "rollout " + id + " " + s.state() + (s.reason() == null ? "" : ": " + s.reason()));
                    return "done".equals(s.state()) ? 0 : 1;
                }
                Thread.sleep(2000);
            }
        }

        static void print(RolloutState s) {
            long done = s.nodes().stream().filter(n -> "done".equals(n.state())).count();
            System.out.println("rollout " + s.id() + " of cluster " + s.cluster() + ": " + s.state() + ", to "
                    + s.target() + ", " + done + "/" + s.nodes().size() + " nodes done, elapsed "
                    + duration(s.elapsedSeconds()) + " (estimate " + duration(s.estimateSeconds()) + ")"
                    + (s.rollbackOf() == null ? "" : ", rolls back " + s.rollbackOf()));
            if (s.reason() != null) {
                System.out.println("reason: " + s.reason());
            }
            if (s.currentStep() != null) {
                System.out.println("now: " + s.currentStep());
            }
            List<String[]> rows = new ArrayList<>();
            rows.add(new String[] {"BATCH", "NODE", "ROLE", "FROM", "TO", "STATE", "STEP", "DETAIL"});
            for (RolloutState.NodeState n : s.nodes()) {
                rows.add(new String[] {
                    String.valueOf(n.batch()),
                    n.name(),
                    n.role(),
                    dash(n.from()),
                    n.to(),
                    n.state(),
                    dash(n.step()),
                    dash(n.detail())
                });
            }
            Format.table(rows).forEach(System.out::println);
        }
    }

    static RolloutState state(ServeClient serve, String id) throws IOException, InterruptedException {
        ServeClient.Reply r = serve.get("/rollouts/" + id);
        if (r.status() != 200) {
            throw new IOException(r.error());
        }
        return Json.MAPPER.readValue(r.body(), RolloutState.class);
    }

    static String newest(ServeClient serve) throws IOException, InterruptedException {
        ServeClient.Reply r = serve.get("/rollouts");
        if (r.status() != 200) {
            throw new IOException("kiln serve: " + r.error());
        }
        JsonNode list = r.json();
        return list.size() == 0 ? null : list.get(0).get("id").asText();
    }

    @Command(
            name = "list",
            mixinStandardHelpOptions = true,
            description = "Every rollout kiln serve knows, newest first.",
            footer = {"", "Example:", "  kiln rollout list"})
    static final class ListCmd implements Callable<Integer> {
        @Mixin
        ServeClient serve;

        @Override
        public Integer call() throws Exception {
            ServeClient.Reply r = serve.get("/rollouts");
            if (r.status() != 200) {
                throw new IOException("kiln serve: " + r.error());
            }
            RolloutState[] all = Json.MAPPER.readValue(r.body(), RolloutState[].class);
            List<String[]> rows = new ArrayList<>();
            rows.add(new String[] {"ID", "CLUSTER", "TARGET", "STATE", "NODES", "STARTED", "REASON"});
            for (RolloutState s : all) {
                long done =
                        s.nodes().stream().filter(n -> "done".equals(n.state())).count();
                rows.add(new String[] {
                    s.id(),
                    s.cluster(),
                    s.target(),
                    s.state(),
                    done + "/" + s.nodes().size(),
                    s.startedAt(),
                    dash(s.reason())
                });
            }
            Format.table(rows).forEach(System.out::println);
            return 0;
        }
    }

    /** pause, resume, abort, rollback: POST /rollouts/ID/ACTION. */
    abstract static class Action implements Callable<Integer> {
        @Mixin
        ServeClient serve;

        @Parameters(paramLabel = "ID", description = "The rollout (kiln rollout list).")
        String id;

        abstract String action();

        /** What the request adds to the action's URL (its options). */
        String query() {
            return "";
        }

        @Override
        public Integer call() throws Exception {
            ServeClient.Reply r = serve.post("/rollouts/" + id + "/" + action() + query(), java.util.Map.of());
            if (r.status() >= 300) {
                System.err.println("kiln rollout " + action() + ": refused: " + r.error());
                return 1;
            }
            RolloutState s = Json.MAPPER.readValue(r.body(), RolloutState.class);
            System.out.println("rollout " + s.id() + ": " + s.state()
                    + (s.rollbackOf() != null ? " (rolls back " + s.rollbackOf() + ")" : ""));
            return 0;
        }
    }

    @Command(
            name = "pause",
            mixinStandardHelpOptions = true,
            description = "No new node starts; nodes already down are seen through. Survives a restart.",
            footer = {"", "Example:", "  kiln rollout pause lab-20261130-101500"})
    static final class Pause extends Action {
        String action() {
            return "pause";
        }
    }

    @Command(
            name = "resume",
            mixinStandardHelpOptions = true,
            description = "Goes on with a paused or halted rollout.",
            footer = {"", "Example:", "  kiln rollout resume lab-20261130-101500"})
    static final class Resume extends Action {
        String action() {
            return "resume";
        }
    }

    @Command(
            name = "abort",
            mixinStandardHelpOptions = true,
            description = {
                "Ends a rollout; nodes not started stay on their versions. Nodes in progress",
                "finish, or with --back go back to their previous version."
            },
            footer = {
                "",
                "Examples:",
                "  kiln rollout abort lab-20261130-101500",
                "  kiln rollout abort --back lab-20261130-101500"
            })
    static final class Abort extends Action {
        @Option(
                names = "--back",
                description = "Nodes in progress go back to their previous version instead of finishing:"
                        + " one already power-cycled through the rollback steps, one not yet cycled is"
                        + " handed its version again.")
        boolean back;

        String action() {
            return "abort";
        }

        @Override
        String query() {
            return back ? "?back=true" : "";
        }
    }

    @Command(
            name = "rollback",
            mixinStandardHelpOptions = true,
            description = {
                "Takes every node the rollout replaced back to its previous version,",
                "as a new rollout under the same safety rules (abort a running one",
                "first)."
            },
            footer = {"", "Example:", "  kiln rollout rollback lab-20261130-101500"})
    static final class Rollback extends Action {
        String action() {
            return "rollback";
        }
    }

    static String duration(long seconds) {
        return seconds >= 60 ? seconds / 60 + " min " + seconds % 60 + " s" : seconds + " s";
    }

    private static String dash(String s) {
        return s == null || s.isEmpty() ? "-" : s;
    }
}
