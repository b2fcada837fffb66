package dev.kiln.cli;

import dev.kiln.builder.store.ImageStore;
import dev.kiln.fleet.ImageSource;
import dev.kiln.fleet.Inventory;
import dev.kiln.fleet.KilnServer;
import dev.kiln.fleet.S3ImageSource;
import dev.kiln.fleet.StateDir;
import dev.kiln.builder.store.ManifestSignatures;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serves bare-metal boot: iPXE scripts, images, metadata, status.",
                "Each machine gets the image its MAC is assigned in the inventory; a MAC",
                "not in the inventory is refused, never booted with a default image.",
                "A node's metadata goes only to the holder of its token (kiln.token= on",
                "its kernel command line). Inventory edits apply within a second; an",
                "invalid edit is logged and the previous inventory stays in force.",
                "With --store s3://BUCKET/PREFIX, images come from kiln publish --s3: each",
                "assigned version is fetched into --cache and checked before it is served.",
                "With --trust, a version goes to nodes only when one of those keys signed it",
                "(kiln sign) and its pxe/ files match the signed manifest; the nodes of any",
                "other version get the refusal script with the reason.",
                "Runs until Ctrl-C. Point DHCP's iPXE boot file at PUBLIC-URL/boot.ipxe."},
        footer = {"", "Example:",
                "  kiln serve --inventory /etc/kiln/inventory.yaml \\",
                "      --listen 0.0.0.0:8080 --public-url http://10.0.2.2:8080",
                "  # dnsmasq: dhcp-boot=tag:ipxe,http://10.0.2.2:8080/boot.ipxe",
                "  kiln serve --inventory inventory.yaml --store s3://my-images/kiln --region eu-west-1",
                "  kiln serve --inventory inventory.yaml --trust release.pub.pem"})
final class ServeCommand implements Callable<Integer> {
    @Option(names = "--inventory", required = true, paramLabel = "FILE",
            description = "Which MAC is which node of which cluster and boots which image (YAML).")
    Path inventory;

    @picocli.CommandLine.Mixin
    ImageSourceOptions images;

    @Option(names = "--listen", defaultValue = "0.0.0.0:8080", paramLabel = "HOST:PORT",
            description = "Address and port to listen on (default: ${DEFAULT-VALUE}).")
    String listen;

    @Option(names = "--public-url", paramLabel = "URL",
            description = "Base URL nodes reach this server at, for boot scripts and metadata (default: http://LISTEN).")
    String publicUrl;

    @Option(names = "--state", paramLabel = "DIR",
            description = "Token secret and node status (default: $XDG_STATE_HOME/kiln/serve or ~/.local/state/kiln/serve).")
    Path state;

    @Option(names = "--trust", paramLabel = "PUB.pem", arity = "1..*",
            description = "Serve only versions signed by one of these Ed25519 public keys (kiln keygen, kiln sign).")
    List<Path> trust;

    @Override
    public Integer call() throws Exception {
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
        List<ManifestSignatures.Key> trusted = trust == null ? List.of() : ManifestSignatures.readPublicKeys(trust);
        ImageSource source = images.open();
        ImageStore local = source.store();
        Path stateDir = state != null ? state : StateDir.defaultDir();
        KilnServer server;
        try {
            server = KilnServer.start(new KilnServer.Options(inventory.toAbsolutePath(), source, host, port, publicUrl,
                    stateDir, 1000).trusting(trusted));
        } catch (Exception e) {
            source.close();
            throw e;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                server.close();
            } finally {
                source.close();
                stopped.countDown();
            }
        }, "kiln-serve-shutdown"));
        Inventory inv = server.inventory();
        System.out.println("kiln serve: listening on " + host + ":" + server.port());
        System.out.println("  nodes are told:  " + server.publicUrl() + "   (iPXE boot file: " + server.publicUrl() + "/boot.ipxe)");
        System.out.println("  inventory:       " + inv.file() + " (" + inv.members().size() + " nodes in " + inv.clusterCount()
                + " clusters; edits apply without a restart)");
        System.out.println("  store:           " + (source instanceof S3ImageSource s3 ? s3.location() + " (cache " + local.root() + ")"
                : local.root()));
        System.out.println("  state:           " + stateDir.toAbsolutePath());
        if (!trusted.isEmpty()) {
            System.out.println("  trust:           only versions signed by " + String.join(", ",
                    trusted.stream().map(k -> k.fingerprint() + " (" + k.source() + ")").toList()));
        }
        if (publicUrl == null && (host.equals("0.0.0.0") || host.equals("::"))) {
            System.out.println("  WARNING: --public-url is not set, so nodes are told " + server.publicUrl()
                    + ", which they cannot reach; set it to this server's address on the boot network");
        }
        System.out.println("Ctrl-C stops.");
        System.out.flush();
        stopped.await();
        return 0;
    }
}
