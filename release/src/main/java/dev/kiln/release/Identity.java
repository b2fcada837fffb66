package dev.kiln.release;

import java.net.InetAddress;
import java.util.List;
import java.util.Map;

/**
 * Who is acting, as recorded in every event: the CI system's user when kiln runs in CI, else
 * user@host. It is what the environment says, not an authentication: approvals from "distinct
 * identities" are as trustworthy as whoever can set these variables in your pipeline.
 *
 * @param name the identity
 * @param source where it came from (the variable's name, or "user@host")
 */
public record Identity(String name, String source) {
    /**
     * In order: an explicit override, then GitHub Actions, GitLab CI, Jenkins (build-user-vars),
     * Buildkite, CircleCI.
     */
    static final List<String> VARIABLES = List.of(
            "KILN_ACTOR",
            "GITHUB_ACTOR",
            "GITLAB_USER_LOGIN",
            "BUILD_USER_ID",
            "BUILD_USER",
            "BUILDKITE_BUILD_CREATOR_EMAIL",
            "CIRCLE_USERNAME");

    public static Identity current() {
        return from(System.getenv());
    }

    static Identity from(Map<String, String> env) {
        for (String v : VARIABLES) {
            String value = env.get(v);
            if (value != null && !value.isBlank()) {
                return new Identity(value.trim(), v);
            }
        }
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (java.io.IOException e) {
            host = env.getOrDefault("HOSTNAME", "localhost");
        }
        return new Identity(System.getProperty("user.name") + "@" + host, "user@host");
    }

    @Override
    public String toString() {
        return name;
    }
}
