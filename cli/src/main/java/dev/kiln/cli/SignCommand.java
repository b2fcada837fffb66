package dev.kiln.cli;

import dev.kiln.core.store.ManifestSignatures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
        name = "sign",
        mixinStandardHelpOptions = true,
        description = "Signs a version: a detached Ed25519 signature of its manifest.json (which holds the sha256 of "
                + "every artifact), written beside it as manifest.json.sig and published with it by kiln publish "
                + "--s3. Signing again replaces the signature. Check it with kiln verify, or with OpenSSL alone: "
                + "openssl pkeyutl -verify -pubin -inkey KEY.pub.pem -rawin -in manifest.json -sigfile "
                + "manifest.json.sig",
        footer = {
            "",
            "Example:",
            "  kiln keygen release.pem",
            "  kiln sign debian-node:1.0.0-20261127.1 --key release.pem",
            "  kiln verify debian-node:1.0.0-20261127.1 --key release.pub.pem"
        })
final class SignCommand implements Callable<Integer> {
    @Parameters(paramLabel = "NAME:VERSION")
    String ref;

    @Mixin
    StoreOption store;

    @Option(
            names = "--key",
            required = true,
            paramLabel = "KEY.pem",
            description = "Ed25519 private key, PEM PKCS#8 (kiln keygen, or openssl genpkey -algorithm ed25519).")
    Path key;

    @Override
    public Integer call() throws Exception {
        Path dir = store.versionDir(ref);
        var priv = ManifestSignatures.readPrivateKey(key);
        boolean replaced = Files.exists(dir.resolve(ManifestSignatures.FILE));
        Path sig = ManifestSignatures.sign(dir, priv);
        System.out.println((replaced ? "re-signed " : "signed ") + ref + ": " + sig);
        return 0;
    }
}
