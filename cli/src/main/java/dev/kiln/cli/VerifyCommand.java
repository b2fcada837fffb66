package dev.kiln.cli;

import dev.kiln.core.store.ManifestSignatures;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
        name = "verify",
        mixinStandardHelpOptions = true,
        description = "Checks a version's signature with the given public key(s), then every artifact (size and "
                + "sha256) against the signed manifest. Exit 0 only when the signature is good and every artifact "
                + "matches; otherwise says what is wrong, naming the artifact.",
        footer = {"", "Example:", "  kiln verify debian-node:1.0.0-20261127.1 --key release.pub.pem"})
final class VerifyCommand implements Callable<Integer> {
    @Parameters(paramLabel = "NAME:VERSION")
    String ref;

    @Mixin
    StoreOption store;

    @Option(
            names = "--key",
            required = true,
            paramLabel = "PUB.pem",
            description = "Trusted Ed25519 public key, PEM (repeat for several; one must have signed).")
    List<Path> keys;

    @Override
    public Integer call() throws Exception {
        Path dir = store.versionDir(ref);
        ManifestSignatures.Verdict v =
                ManifestSignatures.check(dir, ManifestSignatures.readPublicKeys(keys), a -> true);
        if (v.signedBy() == null) {
            System.err.println("kiln verify: " + ref + " FAILED: " + v.problem());
            return 1;
        }
        if (!v.badArtifacts().isEmpty()) {
            System.err.println("kiln verify: " + ref + " FAILED: signed by " + v.signedBy() + ", but:");
            v.badArtifacts().forEach(b -> System.err.println("  " + b));
            return 1;
        }
        System.out.println(ref
                + ": signature good ("
                + v.signedBy()
                + "), "
                + v.manifest().artifacts().size()
                + " artifacts match the signed manifest");
        return 0;
    }
}
