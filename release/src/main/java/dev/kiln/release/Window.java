package dev.kiln.release;

import java.time.DateTimeException;
import java.time.DayOfWeek;
import java.time.Instant;
import java.time.LocalTime;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.format.TextStyle;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * A weekly time window: "Mon-Thu 09:00-16:00 Europe/Amsterdam", "Mon,Wed 22:00-02:00 UTC", "Sat-Sun
 * 00:00-24:00 UTC". Days are ranges or lists of Mon..Sun (a range may wrap, Fri-Mon); the times are
 * local to the zone (an IANA name), so daylight saving is followed. An end before the start runs
 * past midnight into the next day.
 */
public record Window(
        Set<DayOfWeek> days, LocalTime start, LocalTime end, boolean untilMidnight, ZoneId zone, String text) {
    private static final List<String> NAMES = List.of("mon", "tue", "wed", "thu", "fri", "sat", "sun");

    public static Window parse(String text) {
        String[] parts = text == null ? new String[0] : text.trim().split("\\s+");
        if (parts.length != 3) {
            throw new IllegalArgumentException(
                    "expected DAYS HH:MM-HH:MM ZONE like \"Mon-Thu 09:00-16:00 Europe/Amsterdam\", got '" + text + "'");
        }
        Set<DayOfWeek> days = EnumSet.noneOf(DayOfWeek.class);
        for (String item : parts[0].split(",")) {
            String[] range = item.split("-");
            if (range.length > 2) {
                throw new IllegalArgumentException("'" + item + "' is not a day or a range of days (like Mon-Thu)");
            }
            int from = day(range[0]);
            int to = range.length == 2 ? day(range[1]) : from;
            for (int d = from; ; d = (d + 1) % 7) {
                days.add(DayOfWeek.of(d + 1));
                if (d == to) {
                    break;
                }
            }
        }
        String[] times = parts[1].split("-");
        if (times.length != 2) {
            throw new IllegalArgumentException("'" + parts[1] + "' is not a time range HH:MM-HH:MM");
        }
        LocalTime start = time(times[0]);
        boolean untilMidnight = times[1].equals("24:00");
        LocalTime end = untilMidnight ? LocalTime.MIDNIGHT : time(times[1]);
        if (start.equals(end) && !untilMidnight) {
            throw new IllegalArgumentException(
                    "'" + parts[1] + "' is an empty window (start = end); 00:00-24:00 is all day");
        }
        ZoneId zone;
        try {
            zone = ZoneId.of(parts[2]);
        } catch (DateTimeException e) {
            throw new IllegalArgumentException(
                    "'" + parts[2] + "' is not a time zone (an IANA name like Europe/Amsterdam, or UTC)");
        }
        return new Window(Set.copyOf(days), start, end, untilMidnight, zone, text.trim());
    }

    private static int day(String s) {
        int i = NAMES.indexOf(s.toLowerCase(Locale.ROOT));
        if (i < 0) {
            throw new IllegalArgumentException("'" + s + "' is not a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun)");
        }
        return i;
    }

    private static LocalTime time(String s) {
        if (!s.matches("([01]\\d|2[0-3]):[0-5]\\d")) {
            throw new IllegalArgumentException("'" + s + "' is not a time HH:MM (00:00 to 23:59)");
        }
        return LocalTime.parse(s);
    }

    private boolean wraps() {
        return !untilMidnight && !end.isAfter(start);
    }

    /** Whether the instant is inside the window. */
    public boolean contains(Instant instant) {
        ZonedDateTime t = instant.atZone(zone);
        LocalTime time = t.toLocalTime();
        DayOfWeek day = t.getDayOfWeek();
        if (untilMidnight) {
            return days.contains(day) && !time.isBefore(start);
        }
        if (!wraps()) {
            return days.contains(day) && !time.isBefore(start) && time.isBefore(end);
        }
        return days.contains(day) && !time.isBefore(start) || days.contains(day.minus(1)) && time.isBefore(end);
    }

    /** When the window next opens after {@code instant} (within a week). */
    public ZonedDateTime nextOpening(Instant instant) {
        ZonedDateTime t = instant.atZone(zone);
        for (int i = 0; i <= 7; i++) {
            ZonedDateTime candidate = t.toLocalDate().plusDays(i).atTime(start).atZone(zone);
            if (candidate.isAfter(t) && days.contains(candidate.getDayOfWeek())) {
                return candidate;
            }
        }
        return t;
    }

    /** "Fri 17:20 Europe/Amsterdam": an instant as the window sees it. */
    public String local(Instant instant) {
        ZonedDateTime t = instant.atZone(zone);
        return t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH)
                + " "
                + t.toLocalDate()
                + " "
                + t.toLocalTime().withSecond(0).withNano(0)
                + " "
                + zone.getId();
    }

    @Override
    public String toString() {
        return text;
    }
}
