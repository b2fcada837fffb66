package dev.kiln.builder;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.core.node.AgentStep;
import java.nio.file.Files;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The node agent (templates/agent/kiln-agent, sh) and kiln serve (AgentStep) speak of the same
 * steps: every step the agent reports is one kiln serve knows, and every step kiln serve knows is
 * one the agent reports.
 */
class AgentStepsTest {
    private static final Pattern REPORTED =
            Pattern.compile("(?m)^\\s*(?:\\[[^]]*\\] \\|\\| )?(?:step|report) ([a-z-]+) ");

    @Test
    void theAgentReportsExactlyTheStepsKilnServeKnows() throws Exception {
        String agent = Files.readString(TestSupport.repo("templates/agent/kiln-agent"));
        Set<String> reported = new TreeSet<>();
        Matcher m = REPORTED.matcher(agent);
        while (m.find()) {
            reported.add(m.group(1));
        }
        assertThat(reported).isEqualTo(new TreeSet<>(AgentStep.wireNames()));
    }
}
