package dev.kiln.rollout.ec2;

import dev.kiln.aws.AwsClients;
import dev.kiln.aws.Moto;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;
import software.amazon.awssdk.core.SdkRequest;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.core.interceptor.SdkExecutionAttribute;
import software.amazon.awssdk.http.SdkHttpResponse;
import software.amazon.awssdk.http.apache.ApacheHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ec2.model.Tag;
import software.amazon.awssdk.services.iam.IamClient;

/**
 * An empty moto with what an EC2 cluster needs around it: a VPC 10.1.0.0/16, a subnet
 * 10.1.0.0/24 in eu-west-1a, a security group, an instance profile (moto checks it exists), a key
 * pair, and two AMIs tagged as kiln publishes them (A = debian-node:1.0.0, B = 2.0.0). Every SDK
 * request is recorded, so tests can check what was sent where moto drops a field (MetadataOptions,
 * ClientToken).
 */
final class Ec2World implements AutoCloseable {
    static final String REGION = "eu-west-1";
    static final String PROFILE = "kiln-node";

    final Moto moto;
    final AwsClients clients;
    final Ec2Client ec2;
    final List<SdkRequest> sent = new ArrayList<>();
    final String vpc;
    final String subnet;
    final String group;
    final String amiA;
    final String amiB;

    Ec2World() {
        moto = Moto.shared();
        moto.reset();
        ExecutionInterceptor record = new ExecutionInterceptor() {
            @Override
            public void beforeExecution(Context.BeforeExecution context, ExecutionAttributes attributes) {
                synchronized (sent) {
                    sent.add(context.request());
                }
            }
        };
        clients = new AwsClients(moto.settings(REGION), 4, List.of(record, new ZonedAsgTimes()));
        ec2 = clients.ec2(Region.of(REGION));
        vpc = ec2.createVpc(r -> r.cidrBlock("10.1.0.0/16")).vpc().vpcId();
        subnet = ec2.createSubnet(r -> r.vpcId(vpc).cidrBlock("10.1.0.0/24").availabilityZone(REGION + "a"))
                .subnet()
                .subnetId();
        group = ec2.createSecurityGroup(
                        r -> r.vpcId(vpc).groupName("kiln-nodes").description("kiln test nodes"))
                .groupId();
        ec2.createKeyPair(r -> r.keyName("ops"));
        try (IamClient iam = IamClient.builder()
                .region(Region.AWS_GLOBAL)
                .endpointOverride(moto.endpoint())
                .credentialsProvider(moto.settings(REGION).credentialsProvider())
                .httpClientBuilder(ApacheHttpClient.builder())
                .build()) {
            iam.createInstanceProfile(r -> r.instanceProfileName(PROFILE));
        }
        amiA = ami("debian-node", "1.0.0");
        amiB = ami("debian-node", "2.0.0");
    }

    /**
     * moto writes Auto Scaling timestamps without a zone (2026-11-30T01:31:39.227490), which the
     * SDK cannot read; AWS writes them in UTC with a Z. This adds the Z moto leaves out (and drops
     * moto's CRC32 header, which was of the body before).
     */
    static final class ZonedAsgTimes implements ExecutionInterceptor {
        private static final Pattern BARE = Pattern.compile(">(\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?)<");

        /** The XML body with a Z after every timestamp that has no zone. */
        static String zoned(String body) {
            return BARE.matcher(body).replaceAll(">$1Z<");
        }

        private static boolean autoScaling(ExecutionAttributes attributes) {
            return "AutoScaling".equals(attributes.getAttribute(SdkExecutionAttribute.SERVICE_NAME));
        }

        /** The body changes, so moto's CRC32 of it no longer holds. */
        @Override
        public SdkHttpResponse modifyHttpResponse(Context.ModifyHttpResponse context, ExecutionAttributes attributes) {
            return autoScaling(attributes)
                    ? context.httpResponse().toBuilder()
                            .removeHeader("x-amz-crc32")
                            .build()
                    : context.httpResponse();
        }

        @Override
        public Optional<InputStream> modifyHttpResponseContent(
                Context.ModifyHttpResponse context, ExecutionAttributes attributes) {
            if (!autoScaling(attributes) || context.responseBody().isEmpty()) {
                return context.responseBody();
            }
            try (InputStream in = context.responseBody().get()) {
                String body = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                String fixed = zoned(body);
                return Optional.of(new ByteArrayInputStream(fixed.getBytes(StandardCharsets.UTF_8)));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /** An AMI as kiln publish leaves it: named kiln/NAME/VERSION, tagged kiln:name and kiln:version. */
    String ami(String name, String version) {
        String volume =
                ec2.createVolume(r -> r.availabilityZone(REGION + "a").size(2)).volumeId();
        String snapshot = ec2.createSnapshot(r -> r.volumeId(volume)).snapshotId();
        String id = ec2.registerImage(r -> r.name("kiln/" + name + "/" + version)
                        .rootDeviceName("/dev/xvda")
                        .architecture("x86_64")
                        .virtualizationType("hvm")
                        .blockDeviceMappings(b -> b.deviceName("/dev/xvda").ebs(e -> e.snapshotId(snapshot))))
                .imageId();
        ec2.createTags(r -> r.resources(id)
                .tags(
                        Tag.builder().key("kiln:name").value(name).build(),
                        Tag.builder().key("kiln:version").value(version).build()));
        return id;
    }

    <T extends SdkRequest> List<T> sent(Class<T> type) {
        synchronized (sent) {
            return sent.stream().filter(type::isInstance).map(type::cast).toList();
        }
    }

    @Override
    public void close() {
        clients.close();
    }
}
