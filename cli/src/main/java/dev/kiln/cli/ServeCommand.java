package dev.kiln.cli;

import dev.kiln.aws.S3ImageSource;
import dev.kiln.core.store.ImageSource;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.ManifestSignatures;
import dev.kiln.fleet.Inventory;
import dev.kiln.fleet.KilnServer;
import dev.kiln.fleet.PublicUrl;
import dev.kiln.fleet.StateDir;
import dev.kiln.fleet.pxe.DhcpConfig;
import dev.kiln.fleet.pxe.PxeService;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "serve",
        mixinStandardHelpOptions = true,
        description = {
            "Serves bare-metal boot: iPXE scripts, images, metadata, status.",
            "Each machine gets the image its MAC is assigned in the inventory; a MAC",
            "not in the inventory is refused, never booted with a default image.",
            "A node's metadata goes only to the holder of its token (kiln.token= on",
            "its kernel command line). Inventory edits apply within a second; an",
            "invalid edit is logged and the previous inventory stays in force.",
            "With --store s3://BUCKET/PREFIX, images come from kiln publish --s3: each",
            "assigned version is fetched into --cache and checked before it is served.",
            "An image may be a channel, NAME@ENV: the version kiln promote put in ENV",
            "(re-read every 10 s; nodes get a new version when they next boot). A",
            "revoked version (kiln revoke) is refused to nodes, with the reason.",
            "Runs until Ctrl-C. Point DHCP's iPXE boot file at PUBLIC-URL/boot.ipxe,",
            "or let kiln answer PXE itself: --pxe proxy next to the site's DHCP server",
            "(firmware PXE -> TFTP iPXE -> boot.ipxe), --pxe dhcp on an isolated network,",
            "or --print-dhcp-config for the site's own DHCP server.",
            "Operators see the fleet at /ui (page), /nodes, /metrics (Prometheus) and",
            "/images: they want the operator token (made at first start, printed once,",
            "kept in STATE/operator-token) as a bearer token or a basic-auth password,",
            "or a user added with --add-operator; with --admin-listen they are served",
            "on that address only, without a credential.",
            "With --trust, a version goes to nodes only when one of those keys signed it",
            "(kiln sign) and its pxe/ files match the signed manifest; the nodes of any",
            "other version get the refusal script with the reason."
        },
        footer = {
            "",
            "Example:",
            "  kiln serve --inventory /etc/kiln/inventory.yaml \\",
            "      --listen 0.0.0.0:8080 --public-url http://10.0.2.2:8080",
            "  # dnsmasq: dhcp-boot=tag:ipxe,http://10.0.2.2:8080/boot.ipxe",
            "  kiln serve --inventory inventory.yaml --store s3://my-images/kiln --region eu-west-1",
            "  # EC2 clusters (aws: in the inventory) through an emulator such as moto:",
            "  kiln serve --inventory inventory.yaml --endpoint-url http://127.0.0.1:5000",
            "  kiln serve --inventory inventory.yaml --pxe proxy --interface eno1",
            "  kiln serve --print-dhcp-config isc --interface eno1",
            "  kiln serve --inventory inventory.yaml --admin-listen 127.0.0.1:9090",
            "  kiln serve --add-operator alice < password.txt",
            "  kiln serve --inventory inventory.yaml --trust release.pub.pem"
        })
final class ServeCommand implements Callable<Integer> {
    @Option(
            names = "--inventory",
            paramLabel = "FILE",
            description = "Which MAC is which node of which cluster and boots which image (YAML).")
    Path inventory;

    @picocli.CommandLine.Mixin
    ImageSourceOptions images;

    @Option(
            names = "--listen",
            defaultValue = "0.0.0.0:8080",
            paramLabel = "HOST:PORT",
            description = "Address and port to listen on (default: ${DEFAULT-VALUE}).")
    String listen;

    @Option(
            names = "--public-url",
            paramLabel = "URL",
            description =
                    "Base URL nodes reach this server at, for boot scripts and metadata (default: http://LISTEN).")
    String publicUrl;

    @Option(
            names = "--pxe",
            defaultValue = "off",
            paramLabel = "proxy|dhcp|off",
            description = {
                "Answer firmware PXE on --interface with a dnsmasq kiln runs and supervises:",
                "proxy leaves addresses to the site's DHCP server, dhcp hands them out too",
                "(--dhcp-range). Default: ${DEFAULT-VALUE}."
            })
    String pxe;

    @Option(
            names = "--interface",
            paramLabel = "IF",
            description =
                    "The interface on the boot network (for --pxe and --print-dhcp-config; its address is the public URL's host when --public-url is not set).")
    String iface;

    @Option(
            names = "--dhcp-range",
            paramLabel = "START,END",
            description = "Addresses --pxe dhcp hands out, e.g. 10.0.0.100,10.0.0.200.")
    String dhcpRange;

    @Option(
            names = "--print-dhcp-config",
            paramLabel = "dnsmasq|isc|kea",
            description = "Print what the site's own DHCP server needs to chain into kiln, and exit.")
    String printDhcpConfig;

    @Option(
            names = "--state",
            paramLabel = "DIR",
            description = "Token secret, operator token and users, node status (default: $XDG_STATE_HOME/kiln/serve or"
                    + " ~/.local/state/kiln/serve).")
    Path state;

    @Option(
            names = "--admin-listen",
            paramLabel = "HOST:PORT",
            description =
                    "Serve the operator endpoints (/ui, /nodes, /metrics, /images) here only, without a credential;"
                            + " bind it to an address only operators reach (e.g. 127.0.0.1:9090).")
    String adminListen;

    @Option(
            names = "--add-operator",
            paramLabel = "NAME",
            description =
                    "Add (or change) a basic-auth operator in the state directory, with the password read from stdin,"
                            + " and exit.")
    String addOperator;

    @Option(
            names = "--trust",
            paramLabel = "PUB.pem",
            arity = "1..*",
            description = "Serve only versions signed by one of these Ed25519 public keys (kiln keygen, kiln sign).")
    List<Path> trust;

    @Option(
            names = "--simulate-machines",
            paramLabel = "SECONDS",
            description = "SIMULATION: no real machine is powered; every node is a simulated BMC and agent inside"
                    + " this process that boots in SECONDS (bench/rollout.sh; crash tests).")
    Double simulateMachines;

    @Override
    public Integer call() throws Exception {
        if (addOperator != null) {
            return addOperator();
        }
        if (inventory == null && printDhcpConfig == null) {
            throw new picocli.CommandLine.ParameterException(
                    new picocli.CommandLine(this), "Missing required option: '--inventory=FILE'");
        }
        if (adminListen != null) {
            dev.kiln.fleet.ListenAddress.parse("--admin-listen", adminListen);
        }
        String host;
        int port;
        int colon = listen.lastIndexOf(':');
        try {
            host = colon < 0 ? listen : listen.substring(0, colon);
            port = Integer.parseInt(listen.substring(colon + 1));
        } catch (NumberFormatException | IndexOutOfBoundsException e) {
            throw new IllegalArgumentException("--listen: expected HOST:PORT like 0.0.0.0:8080, got '" + listen + "'");
        }
        if (colon < 0 || port < 0 || port > 65535) {
            throw new IllegalArgumentException("--listen: expected HOST:PORT like 0.0.0.0:8080, got '" + listen + "'");
        }
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        if (host.isEmpty()) {
            host = "0.0.0.0";
        }
        String nodesUrl = publicUrl;
        String derivedWhy = null;
        PxeService.InterfaceV4 bootNet = iface == null ? null : PxeService.addressOf(iface);
        if (nodesUrl == null && bootNet != null && PublicUrl.isWildcard(host) && port != 0) {
            nodesUrl = "http://" + bootNet.address() + ":" + port;
            derivedWhy = "the address of --interface " + iface;
        }
        if (nodesUrl == null && PublicUrl.isWildcard(host)) {
            PublicUrl.Decision d = PublicUrl.derive(port, PublicUrl.hostAddresses());
            if (d.error() != null) {
                throw new IllegalArgumentException(d.error());
            }
            nodesUrl = d.url();
            derivedWhy = d.why();
        }
        DhcpConfig dhcp = null;
        if (printDhcpConfig != null || !pxe.equals("off")) {
            String url = nodesUrl != null ? nodesUrl : "http://" + host + ":" + port;
            String serverIp = bootNet != null
                    ? bootNet.address()
                    : java.net.URI.create(url).getHost();
            if (bootNet == null && !pxe.equals("off")) {
                throw new IllegalArgumentException(
                        "--pxe " + pxe + " needs --interface: the interface on the boot network");
            }
            String[] range = dhcpRange == null ? new String[] {null, null} : dhcpRange.split(",", 2);
            if (range.length != 2) {
                throw new IllegalArgumentException(
                        "--dhcp-range: expected START,END like 10.0.0.100,10.0.0.200, got '" + dhcpRange + "'");
            }
            dhcp = new DhcpConfig(
                    pxe.equals("off") ? DhcpConfig.Mode.PROXY : DhcpConfig.Mode.parse(pxe),
                    iface,
                    serverIp,
                    bootNet == null ? null : bootNet.network(),
                    bootNet == null ? "255.255.255.0" : bootNet.netmask(),
                    range[0],
                    range[1],
                    url);
        }
        if (printDhcpConfig != null) {
            System.out.print(dhcp.snippet(printDhcpConfig));
            return 0;
        }
        List<ManifestSignatures.Key> trusted = trust == null ? List.of() : ManifestSignatures.readPublicKeys(trust);
        // --region/--profile/--endpoint-url also reach the EC2 clusters of the inventory (aws:).
        ImageSource source = images.open(true);
        ImageStore local = source.store();
        Path stateDir = state != null ? state : StateDir.defaultDir();
        KilnServer server;
        // Channels (NAME@ENV) and revocations come from the promotion records of the same store.
        dev.kiln.release.ReleaseStore records;
        try {
            records = ReleaseOptions.store(images);
        } catch (Exception e) {
            source.close();
            throw e;
        }
        try {
            server = KilnServer.start(
                    new KilnServer.Options(
                                    inventory.toAbsolutePath(),
                                    source,
                                    host,
                                    port,
                                    nodesUrl,
                                    stateDir,
                                    1000,
                                    adminListen)
                            .trusting(trusted),
                    new dev.kiln.release.ReleaseChannels(records));
        } catch (Exception e) {
            records.close();
            source.close();
            throw e;
        }
        // The rollout controller: the one writer of node versions, resuming what a stop left running.
        dev.kiln.rollout.SimulatedMachines simulated = simulateMachines == null
                ? null
                : new dev.kiln.rollout.SimulatedMachines(
                        server, java.time.Duration.ofMillis(Math.round(simulateMachines * 1000)));
        dev.kiln.rollout.RolloutController rollouts;
        try {
            rollouts = dev.kiln.rollout.RolloutController.attach(
                    server, new dev.kiln.rollout.FleetDrivers(server, simulated, images.aws.settings()));
        } catch (Exception e) {
            server.close();
            records.close();
            source.close();
            throw e;
        }
        if (simulated != null) {
            simulated.powerOn();
        }
        PxeService pxeService = null;
        if (dhcp != null) {
            try {
                pxeService = PxeService.start(dhcp, stateDir.resolve("pxe"));
            } catch (Exception e) {
                server.close();
                source.close();
                throw e;
            }
        }
        PxeService pxeToStop = pxeService;
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime()
                .addShutdownHook(new Thread(
                        () -> {
                            try {
                                if (pxeToStop != null) {
                                    pxeToStop.close();
                                }
                                rollouts.close();
                                if (simulated != null) {
                                    simulated.shutdown();
                                }
                                server.close();
                            } finally {
                                records.close();
                                source.close();
                                stopped.countDown();
                            }
                        },
                        "kiln-serve-shutdown"));
        Inventory inv = server.inventory();
        System.out.println("kiln serve: listening on " + host + ":" + server.port());
        System.out.println("  nodes are told:  "
                + server.publicUrl()
                + "   (iPXE boot file: "
                + server.publicUrl()
                + "/boot.ipxe)"
                + (derivedWhy == null ? "" : "\n                   (" + derivedWhy + ")"));
        System.out.println("  inventory:       "
                + inv.file()
                + " ("
                + inv.members().size()
                + " nodes in "
                + inv.clusterCount()
                + " clusters; edits apply without a restart)");
        System.out.println("  store:           "
                + (source instanceof S3ImageSource s3
                        ? s3.location() + " (cache " + local.root() + ")"
                        : local.root()));
        System.out.println("  state:           " + stateDir.toAbsolutePath());
        System.out.println("  rollouts:        kiln rollout plan|apply|status ("
                + rollouts.list().size() + " known; running ones resumed)");
        if (simulated != null) {
            System.out.println("  SIMULATION:      every machine is simulated (" + simulateMachines
                    + " s boots); nothing real is powered");
        }
        if (pxeService != null) {
            System.out.println("  pxe:             "
                    + pxe
                    + " on "
                    + iface
                    + " (dnsmasq pid "
                    + pxeService.pid()
                    + ", "
                    + pxeService.configFile()
                    + "; firmware gets TFTP iPXE, iPXE gets "
                    + server.publicUrl()
                    + "/boot.ipxe)");
        }
        if (adminListen != null) {
            System.out.println("  operators:       http://"
                    + adminListen.substring(0, adminListen.lastIndexOf(':') + 1)
                    + server.adminPort()
                    + "/ui (also /nodes, /metrics, /images; no credential: keep this address private)");
        } else {
            System.out.println("  operators:       "
                    + server.publicUrl()
                    + "/ui (also /nodes, /metrics, /images), with the token in "
                    + stateDir.toAbsolutePath().resolve(dev.kiln.fleet.OperatorAuth.TOKEN_FILE));
        }
        if (server.newOperatorToken() != null) {
            // Shown once, at the start that made it; afterwards it is only in the 0600 file.
            System.out.println("  operator token (new; shown this once): " + server.newOperatorToken());
            System.out.println(
                    "    browser: user operator, password = the token;  curl -H 'Authorization: Bearer TOKEN'");
        }
        if (!trusted.isEmpty()) {
            System.out.println("  trust:           only versions signed by "
                    + String.join(
                            ", ",
                            trusted.stream()
                                    .map(k -> k.fingerprint() + " (" + k.source() + ")")
                                    .toList()));
        }
        System.out.println("Ctrl-C stops.");
        System.out.flush();
        stopped.await();
        return 0;
    }

    /**
     * --add-operator NAME: the password is the first line of stdin (or typed at the console, not
     * echoed).
     */
    private int addOperator() throws Exception {
        Path stateDir = state != null ? state : StateDir.defaultDir();
        String password;
        java.io.Console console = System.console();
        if (console != null) {
            char[] typed = console.readPassword("password for operator %s (12 or more characters): ", addOperator);
            password = typed == null ? null : new String(typed);
        } else {
            password = new java.io.BufferedReader(
                            new java.io.InputStreamReader(System.in, java.nio.charset.StandardCharsets.UTF_8))
                    .readLine();
        }
        if (password == null) {
            throw new IllegalArgumentException("--add-operator: no password on stdin");
        }
        dev.kiln.fleet.OperatorAuth.addUser(stateDir, addOperator, password);
        System.out.println("operator "
                + addOperator
                + " can sign in with basic auth; kept (hashed) in "
                + stateDir.toAbsolutePath().resolve(dev.kiln.fleet.OperatorAuth.USERS_FILE)
                + "; a running kiln serve picks it up at once");
        return 0;
    }
}
