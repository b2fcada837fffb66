package dev.kiln.cli;

import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.ImageSource;
import dev.kiln.fleet.Inventory;
import dev.kiln.fleet.KilnServer;
import dev.kiln.fleet.PublicUrl;
import dev.kiln.fleet.pxe.DhcpConfig;
import dev.kiln.fleet.pxe.PxeService;
import dev.kiln.aws.S3ImageSource;
import dev.kiln.fleet.StateDir;
import java.nio.file.Path;
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
                "Runs until Ctrl-C. Point DHCP's iPXE boot file at PUBLIC-URL/boot.ipxe,",
                "or let kiln answer PXE itself: --pxe proxy next to the site's DHCP server",
                "(firmware PXE -> TFTP iPXE -> boot.ipxe), --pxe dhcp on an isolated network,",
                "or --print-dhcp-config for the site's own DHCP server."},
        footer = {"", "Example:",
                "  kiln serve --inventory /etc/kiln/inventory.yaml \\",
                "      --listen 0.0.0.0:8080 --public-url http://10.0.2.2:8080",
                "  # dnsmasq: dhcp-boot=tag:ipxe,http://10.0.2.2:8080/boot.ipxe",
                "  kiln serve --inventory inventory.yaml --store s3://my-images/kiln --region eu-west-1",
                "  kiln serve --inventory inventory.yaml --pxe proxy --interface eno1",
                "  kiln serve --print-dhcp-config isc --interface eno1"})
final class ServeCommand implements Callable<Integer> {
    @Option(names = "--inventory", paramLabel = "FILE",
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

    @Option(names = "--pxe", defaultValue = "off", paramLabel = "proxy|dhcp|off",
            description = {"Answer firmware PXE on --interface with a dnsmasq kiln runs and supervises:",
                    "proxy leaves addresses to the site's DHCP server, dhcp hands them out too",
                    "(--dhcp-range). Default: ${DEFAULT-VALUE}."})
    String pxe;

    @Option(names = "--interface", paramLabel = "IF",
            description = "The interface on the boot network (for --pxe and --print-dhcp-config; its address is the public URL's host when --public-url is not set).")
    String iface;

    @Option(names = "--dhcp-range", paramLabel = "START,END", description = "Addresses --pxe dhcp hands out, e.g. 10.0.0.100,10.0.0.200.")
    String dhcpRange;

    @Option(names = "--print-dhcp-config", paramLabel = "dnsmasq|isc|kea",
            description = "Print what the site's own DHCP server needs to chain into kiln, and exit.")
    String printDhcpConfig;

    @Option(names = "--state", paramLabel = "DIR",
            description = "Token secret and node status (default: $XDG_STATE_HOME/kiln/serve or ~/.local/state/kiln/serve).")
    Path state;

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
            String serverIp = bootNet != null ? bootNet.address() : java.net.URI.create(url).getHost();
            if (bootNet == null && !pxe.equals("off")) {
                throw new IllegalArgumentException("--pxe " + pxe + " needs --interface: the interface on the boot network");
            }
            String[] range = dhcpRange == null ? new String[] {null, null} : dhcpRange.split(",", 2);
            if (range.length != 2) {
                throw new IllegalArgumentException("--dhcp-range: expected START,END like 10.0.0.100,10.0.0.200, got '" + dhcpRange + "'");
            }
            dhcp = new DhcpConfig(pxe.equals("off") ? DhcpConfig.Mode.PROXY : DhcpConfig.Mode.parse(pxe), iface, serverIp,
                    bootNet == null ? null : bootNet.network(), bootNet == null ? "255.255.255.0" : bootNet.netmask(),
                    range[0], range[1], url);
        }
        if (printDhcpConfig != null) {
            System.out.print(dhcp.snippet(printDhcpConfig));
            return 0;
        }
        if (inventory == null) {
            throw new IllegalArgumentException("--inventory FILE is required: which MAC is which node and boots which image");
        }
        ImageSource source = images.open();
        ImageStore local = source.store();
        Path stateDir = state != null ? state : StateDir.defaultDir();
        KilnServer server;
        try {
            server = KilnServer.start(new KilnServer.Options(inventory.toAbsolutePath(), source, host, port, nodesUrl,
                    stateDir, 1000));
        } catch (Exception e) {
            source.close();
            throw e;
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
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                if (pxeToStop != null) {
                    pxeToStop.close();
                }
                server.close();
            } finally {
                source.close();
                stopped.countDown();
            }
        }, "kiln-serve-shutdown"));
        Inventory inv = server.inventory();
        System.out.println("kiln serve: listening on " + host + ":" + server.port());
        System.out.println("  nodes are told:  " + server.publicUrl() + "   (iPXE boot file: " + server.publicUrl() + "/boot.ipxe)"
                + (derivedWhy == null ? "" : "\n                   (" + derivedWhy + ")"));
        System.out.println("  inventory:       " + inv.file() + " (" + inv.members().size() + " nodes in " + inv.clusterCount()
                + " clusters; edits apply without a restart)");
        System.out.println("  store:           " + (source instanceof S3ImageSource s3 ? s3.location() + " (cache " + local.root() + ")"
                : local.root()));
        System.out.println("  state:           " + stateDir.toAbsolutePath());
        if (pxeService != null) {
            System.out.println("  pxe:             " + pxe + " on " + iface + " (dnsmasq pid " + pxeService.pid() + ", "
                    + pxeService.configFile() + "; firmware gets TFTP iPXE, iPXE gets " + server.publicUrl() + "/boot.ipxe)");
        }
        System.out.println("Ctrl-C stops.");
        System.out.flush();
        stopped.await();
        return 0;
    }
}
