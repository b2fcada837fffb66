package dev.kiln.rollout.ec2;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import software.amazon.awssdk.core.SdkField;
import software.amazon.awssdk.core.SdkPojo;
import software.amazon.awssdk.core.protocol.MarshallingType;
import software.amazon.awssdk.core.traits.ListTrait;
import software.amazon.awssdk.core.traits.MapTrait;
import software.amazon.awssdk.core.util.SdkAutoConstructList;
import software.amazon.awssdk.core.util.SdkAutoConstructMap;
import software.amazon.awssdk.utils.builder.SdkBuilder;

/**
 * Copies an SDK response shape into the builder of the matching request shape, member by member
 * (by name, recursively), as EC2's ResponseLaunchTemplateData into RequestLaunchTemplateData: the
 * two have the same members under different nested types. Members the target lacks, or whose kind
 * differs, are left out.
 */
final class SdkCopy {
    private SdkCopy() {}

    static void into(SdkPojo targetBuilder, SdkPojo source) {
        Map<String, SdkField<?>> from = new HashMap<>();
        source.sdkFields().forEach(f -> from.put(f.memberName(), f));
        for (SdkField<?> to : targetBuilder.sdkFields()) {
            SdkField<?> f = from.get(to.memberName());
            if (f == null) {
                continue;
            }
            Object value = convert(f.getValueOrDefault(source), f, to);
            if (value != null) {
                to.set(targetBuilder, value);
            }
        }
    }

    private static Object convert(Object value, SdkField<?> from, SdkField<?> to) {
        if (value == null
                || from.marshallingType() != to.marshallingType()
                // An unset list or map reads as an empty one; left unset, not sent as empty.
                || value instanceof SdkAutoConstructList<?>
                || value instanceof SdkAutoConstructMap<?, ?>) {
            return null;
        }
        MarshallingType<?> type = to.marshallingType();
        if (type == MarshallingType.SDK_POJO) {
            SdkPojo builder = to.constructor().get();
            into(builder, (SdkPojo) value);
            return ((SdkBuilder<?, ?>) builder).build();
        }
        if (type == MarshallingType.LIST) {
            SdkField<?> fm = from.getRequiredTrait(ListTrait.class).memberFieldInfo();
            SdkField<?> tm = to.getRequiredTrait(ListTrait.class).memberFieldInfo();
            List<Object> out = new ArrayList<>();
            for (Object o : (List<?>) value) {
                Object c = convert(o, fm, tm);
                if (c != null) {
                    out.add(c);
                }
            }
            return out;
        }
        if (type == MarshallingType.MAP) {
            SdkField<?> fv = from.getRequiredTrait(MapTrait.class).valueFieldInfo();
            SdkField<?> tv = to.getRequiredTrait(MapTrait.class).valueFieldInfo();
            Map<Object, Object> out = new LinkedHashMap<>();
            ((Map<?, ?>) value).forEach((k, v) -> {
                Object c = convert(v, fv, tv);
                if (c != null) {
                    out.put(k, c);
                }
            });
            return out;
        }
        return value;
    }
}
