package dev.kiln.cli;

import dev.kiln.core.store.ManifestSignatures;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(
        name = "keygen",
        mixinStandardHelpOptions = true,
        description = "Makes an Ed25519 key pair for kiln sign: PRIVATE.pem (PKCS#8, mode 0600) and PRIVATE.pub.pem "
                + "(the public key, for kiln verify and kiln serve --trust). OpenSSL makes the same files: openssl "
                + "genpkey -algorithm ed25519 -out KEY.pem and openssl pkey -in KEY.pem -pubout -out KEY.pub.pem.",
        footer = {
            "",
            "Example:",
            "  kiln keygen ~/.config/kiln/release.pem",
            "  kiln sign debian-node:1.0.0-20261127.1 --key ~/.config/kiln/release.pem"
        })
final class KeygenCommand implements Callable<Integer> {
    @Parameters(
            paramLabel = "PRIVATE.pem",
            description = "Where the private key goes; the public key goes beside it as .pub.pem.")
    Path privateKey;

    @Override
    public Integer call() throws Exception {
        String name = privateKey.getFileName().toString();
        Path publicKey = privateKey.resolveSibling(
                (name.endsWith(".pem") ? name.substring(0, name.length() - 4) : name) + ".pub.pem");
        var pair = ManifestSignatures.generate();
        ManifestSignatures.writeKeyPair(pair, privateKey, publicKey);
        System.out.println("private key: " + privateKey + " (keep it secret; kiln sign --key)");
        System.out.println("public key:  "
                + publicKey
                + " ("
                + ManifestSignatures.fingerprint(pair.getPublic())
                + "; kiln verify --key, kiln serve --trust)");
        return 0;
    }
}
