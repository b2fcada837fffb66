package dev.kiln.rollout.ec2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.json.Json;
import dev.kiln.core.store.ImageRef;
import dev.kiln.fleet.Inventory;
import dev.kiln.rollout.NodeReplacer;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.ec2.model.HttpTokensState;
import software.amazon.awssdk.services.ec2.model.RunInstancesRequest;

/** What a launch carries, without an emulator: user data, the request, ClientTokens, subnets. */
class Ec2LaunchTest {
    static final Inventory.Aws AWS = new Inventory.Aws(
            "eu-west-1",
            "subnet-0a1b2c3d",
            List.of("sg-0a1b2c3d"),
            "m6i.large",
            "arn:aws:iam::111122223333:instance-profile/kiln-node",
            null);
    static final NodeReplacer.Node W1 = new NodeReplacer.Node(
            "cloud",
            "w1",
            "02:11:22:33:44:55",
            "worker",
            "10.1.0.21",
            new ImageRef("debian-node", "1.0.0"),
            new ImageRef("debian-node", "2.0.0"),
            "ami-0b");

    @Test
    void userDataIsTheMetadataWithServerAndTokenAsTheAgentReadsIt() throws Exception {
        Ec2UserData.Source source = Ec2UserData.source(
                mac -> mac.equals("02:11:22:33:44:55")
                        ? Map.of("name", "w1", "role", "join-worker", "server", "x")
                        : null,
                "https://serve.example:8443",
                mac -> "token-of-" + mac);
        @SuppressWarnings("unchecked")
        Map<String, Object> doc = Json.MAPPER.readValue(source.userData("02:11:22:33:44:55"), Map.class);
        assertThat(doc)
                .containsEntry("name", "w1")
                .containsEntry("role", "join-worker")
                .containsEntry("server", "https://serve.example:8443")
                .containsEntry("token", "token-of-02:11:22:33:44:55");
        assertThatThrownBy(() -> source.userData("02:00:00:00:00:00"))
                .hasMessageContaining("no node with MAC 02:00:00:00:00:00");
        assertThatThrownBy(() -> Ec2UserData.document(Map.of("name", "w1", "caKey", "k".repeat(17000)), "u", "t"))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("EC2 accepts at most 16384");
        assertThatThrownBy(() -> Ec2UserData.document(Map.of("name", "w1"), "u", null))
                .hasMessageContaining("no token for node w1");
    }

    @Test
    void theLaunchRequiresImdsV2AndTagsTheNodeAndItsVersion() {
        Ec2Replacer r = new Ec2Replacer(AWS, null, mac -> new byte[0], "rollout-7");
        RunInstancesRequest q = r.launchRequest(W1, "e30=", "kiln-x", true);
        assertThat(q.metadataOptions().httpTokens()).isEqualTo(HttpTokensState.REQUIRED);
        assertThat(q.imageId()).isEqualTo("ami-0b");
        assertThat(q.networkInterfaces()).singleElement().satisfies(n -> {
            assertThat(n.privateIpAddress()).isEqualTo("10.1.0.21");
            assertThat(n.subnetId()).isEqualTo("subnet-0a1b2c3d");
            assertThat(n.groups()).containsExactly("sg-0a1b2c3d");
            assertThat(n.deleteOnTermination()).isTrue();
        });
        assertThat(q.iamInstanceProfile().arn()).endsWith("instance-profile/kiln-node");
        assertThat(q.keyName()).isNull();
        assertThat(q.tagSpecifications().get(0).tags())
                .extracting(t -> t.key() + "=" + t.value())
                .contains(
                        "kiln:cluster=cloud",
                        "kiln:node=w1",
                        "kiln:name=debian-node",
                        "kiln:version=2.0.0",
                        "kiln:rollout=rollout-7");
        assertThat(r.launchRequest(W1, "", null, false)
                        .networkInterfaces()
                        .get(0)
                        .privateIpAddress())
                .isNull();
    }

    @Test
    void clientTokensRepeatForARetryAndDifferForAnotherAttemptOrRollout() {
        Ec2Replacer r = new Ec2Replacer(AWS, null, mac -> new byte[0], "rollout-7");
        String t1 = r.clientToken(W1, 1);
        assertThat(t1).hasSizeLessThanOrEqualTo(64).matches("[\\x21-\\x7e]+");
        assertThat(new Ec2Replacer(AWS, null, mac -> new byte[0], "rollout-7").clientToken(W1, 1))
                .isEqualTo(t1);
        assertThat(r.clientToken(W1, 2)).isNotEqualTo(t1);
        assertThat(new Ec2Replacer(AWS, null, mac -> new byte[0], "rollout-8").clientToken(W1, 1))
                .isNotEqualTo(t1);
    }

    @Test
    void subnetArithmetic() {
        assertThat(Ipv4.inSubnet("10.1.0.21", "10.1.0.0/24")).isTrue();
        assertThat(Ipv4.inSubnet("10.1.1.21", "10.1.0.0/24")).isFalse();
        assertThat(Ipv4.inSubnet("10.1.1.21", "10.1.0.0/16")).isTrue();
        assertThat(Ipv4.inSubnet("fd00::1", "10.1.0.0/16")).isFalse();
        assertThat(Ipv4.reservedInSubnet("10.1.0.3", "10.1.0.0/24")).isTrue();
        assertThat(Ipv4.reservedInSubnet("10.1.0.4", "10.1.0.0/24")).isFalse();
        assertThat(Ipv4.reservedInSubnet("10.1.0.255", "10.1.0.0/24")).isTrue();
    }
}
