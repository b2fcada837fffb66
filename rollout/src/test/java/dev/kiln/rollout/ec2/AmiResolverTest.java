package dev.kiln.rollout.ec2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.aws.AmiPublisher;
import dev.kiln.aws.PublishFixture;
import dev.kiln.aws.PublishListener;
import dev.kiln.aws.SsmImagePointer;
import dev.kiln.core.progress.Progress;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.regions.Region;

/**
 * The target AMI of a rollout, from a version really published to moto by kiln publish --ami
 * (published.json), and from an environment's SSM parameter for NAME@ENV.
 */
@Tag("aws")
class AmiResolverTest {
    @TempDir
    Path tmp;

    Ec2World world;
    ImageStore store;
    ImageRef published;
    String ami;
    AmiResolver resolver;

    @BeforeEach
    void setUp() throws Exception {
        world = new Ec2World();
        store = new ImageStore(tmp.resolve("store"));
        published = PublishFixture.version(store, "node", "1.0.0", "2026-11-27T00:00:00Z");
        ami = new AmiPublisher(world.clients, Progress.SILENT, PublishListener.NONE)
                .workers(4)
                .polling(Duration.ofMillis(100), Duration.ofSeconds(30))
                .publish(store, published, new AmiPublisher.Options(Ec2World.REGION, List.of(), List.of(), null))
                .images()
                .get(Ec2World.REGION);
        resolver = new AmiResolver(store, world.clients);
    }

    @AfterEach
    void tearDown() {
        world.close();
    }

    @Test
    void aVersionResolvesToTheAmiItsPublishRecordedInThatRegion() throws Exception {
        assertThat(ami).startsWith("ami-");
        assertThat(resolver.resolve(published, null, Ec2World.REGION)).isEqualTo(ami);
        assertThatThrownBy(() -> resolver.resolve(published, null, "us-west-2"))
                .hasMessageContaining("node:1.0.0 has no AMI in region us-west-2")
                .hasMessageContaining("only in eu-west-1")
                .hasMessageContaining("kiln publish --ami --copy-to us-west-2");
        ImageRef unpublished = PublishFixture.version(store, "node", "1.0.1", "2026-11-28T00:00:00Z");
        assertThatThrownBy(() -> resolver.resolve(unpublished, null, Ec2World.REGION))
                .hasMessageContaining("node:1.0.1 has no AMI")
                .hasMessageContaining("published.json does not exist")
                .hasMessageContaining("kiln publish --ami --region eu-west-1");
    }

    @Test
    void aChannelResolvesThroughTheEnvironmentsSsmParameterCheckedAgainstTheVersion() throws Exception {
        SsmImagePointer ssm =
                new SsmImagePointer(world.clients.ssm(Region.of(Ec2World.REGION)), "region " + Ec2World.REGION);
        ssm.point("/kiln/images/node/prod", ami, "test");
        assertThat(resolver.resolve(published, "node@prod", Ec2World.REGION)).isEqualTo(ami);

        assertThatThrownBy(() -> resolver.resolve(published, "node@staging", Ec2World.REGION))
                .hasMessageContaining("SSM parameter /kiln/images/node/staging does not exist in region eu-west-1")
                .hasMessageContaining("kiln promote node:1.0.0 --to staging");

        // The parameter points at another version's AMI than the promotion records say.
        ssm.point("/kiln/images/node/prod", world.ami("node", "0.9.0"), "test");
        assertThatThrownBy(() -> resolver.resolve(published, "node@prod", Ec2World.REGION))
                .hasMessageContaining("points at AMI")
                .hasMessageContaining("of node:0.9.0, but channel node@prod is node:1.0.0")
                .hasMessageContaining("kiln promote node:1.0.0 --to prod");
    }
}
