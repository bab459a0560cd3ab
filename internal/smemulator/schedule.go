package smemulator

// NextRotationDate, as AWS documents it. DescribeSecret's reference: "The
// next rotation is scheduled to occur on or before this date ... This date
// represents the latest date that rotation will occur, but it is not an
// approximate rotation date." "Rotation schedules"
// (https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_schedule.html):
// schedules use UTC; "Secrets Manager rotates your secret at any time
// during the rotation window"; windows "always start on the hour"; "for a
// rate() expression in days, the rotation window starts at midnight"; "for
// a cron() expression, the rotation window opens at the time you specify";
// "by default, the rotation window closes after one hour for a rotation
// schedule in hours, and at the end of the day for a rotation schedule in
// days"; Duration ("3h") sets its length; "a cron expression that
// includes increments of hours resets each day". RotationRulesType: with
// AutomaticallyAfterDays "Secrets Manager calculates the next rotation
// date based on the previous rotation. Manually updating the secret value
// by calling PutSecretValue or UpdateSecret is considered a valid
// rotation."
//
// So NextRotationDate is the end of the window in which the next rotation
// falls due. Inferred (AWS does not say): a rate() or
// AutomaticallyAfterDays rotation falls due the interval after the later
// of the last rotation (or, never rotated, when rotation was configured)
// and the last value put by hand (documented for AutomaticallyAfterDays
// only); a rate() in hours opens its window on the hour the interval
// ends in; a cron() window is the first the expression opens after the
// last rotation or configuration, whichever is later (so that a new cron()
// schedule does not reach back, as AWS's CloudFormation reference
// suggests: "To prevent unintended rotations, use a ScheduleExpression
// with cron()"); an expression the emulator cannot evaluate has no
// NextRotationDate.

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// nextRotation is NextRotationDate for rules, given when the secret was
// last rotated (zero if never), when rotation was last configured, and
// when a value was last put by hand (zero if never).
func nextRotation(rotated, configured, edited time.Time, r *rotationRules) (time.Time, bool) {
	if r == nil || rotated.IsZero() && configured.IsZero() {
		return time.Time{}, false
	}
	window, hasWindow := windowLength(r.Duration)
	// An interval runs from the last rotation ("based on the previous
	// rotation"), or an edit after it; a cron() window is the first one
	// after the last rotation or configuration, whichever came later.
	since := rotated
	if since.IsZero() {
		since = configured
	}
	if edited.After(since) {
		since = edited
	}
	base := rotated
	if configured.After(base) {
		base = configured
	}
	if r.AutomaticallyAfterDays != nil {
		return dayWindowEnd(since.AddDate(0, 0, int(*r.AutomaticallyAfterDays)), window, hasWindow), true
	}
	if r.ScheduleExpression == nil {
		return time.Time{}, false
	}
	expr := *r.ScheduleExpression
	if m := ratePattern.FindStringSubmatch(expr); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil {
			return time.Time{}, false
		}
		if strings.HasPrefix(m[2], "hour") {
			open := since.Add(time.Duration(n) * time.Hour).UTC().Truncate(time.Hour)
			if !hasWindow {
				window = time.Hour
			}
			return open.Add(window), true
		}
		return dayWindowEnd(since.AddDate(0, 0, n), window, hasWindow), true
	}
	c, err := parseCron(expr)
	if err != nil {
		return time.Time{}, false
	}
	return c.nextWindowEnd(base, window, hasWindow)
}

// dayWindowEnd is the end of the window of the UTC day holding due: from
// midnight, Duration long, else the whole day.
func dayWindowEnd(due time.Time, window time.Duration, hasWindow bool) time.Time {
	midnight := due.UTC().Truncate(24 * time.Hour)
	if !hasWindow {
		window = 24 * time.Hour
	}
	return midnight.Add(window)
}

// windowLength reads RotationRules' Duration ("3h").
func windowLength(d *string) (time.Duration, bool) {
	if d == nil || !durationPattern.MatchString(*d) {
		return 0, false
	}
	h, err := strconv.Atoi(strings.TrimSuffix(*d, "h"))
	if err != nil || h < 1 || h > 24 {
		return 0, false
	}
	return time.Duration(h) * time.Hour, true
}

// cronSchedule is a Secrets Manager cron(Minutes Hours Day-of-month Month
// Day-of-week Year): minutes must be 0 and year *; hours 0-23 (, - * /);
// day of month 1-31 (, - * ? / L); month 1-12 or JAN-DEC (, - * /); day
// of week 1-7 or SUN-SAT (# , - * ? / L), 1 being Sunday.
type cronSchedule struct {
	hours  [24]bool
	months [13]bool
	// inHours: the expression opens more than one window a day, a
	// schedule in hours (its default window is an hour, not the day).
	inHours bool
	dom     func(day time.Time) bool // nil: "?"
	dow     func(day time.Time) bool // nil: "?"
}

func parseCron(expr string) (*cronSchedule, error) {
	if !strings.HasPrefix(expr, "cron(") || !strings.HasSuffix(expr, ")") {
		return nil, fmt.Errorf("not a cron expression")
	}
	f := strings.Fields(expr[len("cron(") : len(expr)-1])
	if len(f) != 6 || f[0] != "0" || f[5] != "*" {
		return nil, fmt.Errorf("want cron(0 hours day-of-month month day-of-week *)")
	}
	c := &cronSchedule{}
	hours, err := cronSet(f[1], 0, 23, nil)
	if err != nil {
		return nil, err
	}
	n := 0
	for h := range 24 {
		c.hours[h] = hours[h]
		if hours[h] {
			n++
		}
	}
	c.inHours = n > 1
	months, err := cronSet(f[3], 1, 12, monthNames)
	if err != nil {
		return nil, err
	}
	copy(c.months[:], months)
	if c.dom, err = domMatcher(f[2]); err != nil {
		return nil, err
	}
	if c.dow, err = dowMatcher(f[4]); err != nil {
		return nil, err
	}
	switch {
	case c.dom == nil && c.dow == nil:
		return nil, fmt.Errorf("day-of-month and day-of-week are both ?")
	case f[2] == "*" && c.dow != nil:
		c.dom = nil // "*" beside a day of week defers to it
	case f[4] == "*" && c.dom != nil:
		c.dow = nil
	}
	return c, nil
}

var (
	monthNames = []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}
	dayNames   = []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}
)

// cronSet is the values a field of lo..hi selects: "*", and a
// comma-separated list of n, a-b, n/step, a-b/step, */step; names stand
// for lo, lo+1, ...
func cronSet(field string, lo, hi int, names []string) ([]bool, error) {
	set := make([]bool, hi+1)
	for _, item := range strings.Split(field, ",") {
		from, to, step := lo, hi, 1
		rng := item
		if i := strings.IndexByte(item, '/'); i >= 0 {
			s, err := strconv.Atoi(item[i+1:])
			if err != nil || s < 1 {
				return nil, fmt.Errorf("bad step in %q", item)
			}
			step, rng = s, item[:i]
		}
		switch {
		case rng == "*":
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err error
			if from, err = cronValue(a, lo, hi, names); err != nil {
				return nil, err
			}
			if to, err = cronValue(b, lo, hi, names); err != nil {
				return nil, err
			}
		default:
			v, err := cronValue(rng, lo, hi, names)
			if err != nil {
				return nil, err
			}
			from, to = v, v
			if step > 1 || strings.Contains(item, "/") {
				to = hi // "4/12": from 4, every 12
			}
		}
		if from > to {
			return nil, fmt.Errorf("bad range %q", item)
		}
		for v := from; v <= to; v += step {
			set[v] = true
		}
	}
	return set, nil
}

func cronValue(s string, lo, hi int, names []string) (int, error) {
	for i, n := range names {
		if strings.EqualFold(s, n) {
			return lo + i, nil
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		return 0, fmt.Errorf("%q is not from %d to %d", s, lo, hi)
	}
	return v, nil
}

// lastDay is the last day of day's month.
func lastDay(day time.Time) int {
	return time.Date(day.Year(), day.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func domMatcher(field string) (func(time.Time) bool, error) {
	switch field {
	case "?":
		return nil, nil
	case "L":
		return func(d time.Time) bool { return d.Day() == lastDay(d) }, nil
	}
	set, err := cronSet(field, 1, 31, nil)
	if err != nil {
		return nil, err
	}
	return func(d time.Time) bool { return set[d.Day()] }, nil
}

// dowMatcher: 1-7 or SUN-SAT; "L" the last day of the week (Saturday);
// "nL" the month's last such day; "n#k" its k-th.
func dowMatcher(field string) (func(time.Time) bool, error) {
	weekday := func(d time.Time) int { return int(d.Weekday()) + 1 }
	switch {
	case field == "?":
		return nil, nil
	case field == "L":
		return func(d time.Time) bool { return weekday(d) == 7 }, nil
	case strings.HasSuffix(field, "L"):
		n, err := cronValue(strings.TrimSuffix(field, "L"), 1, 7, dayNames)
		if err != nil {
			return nil, err
		}
		return func(d time.Time) bool { return weekday(d) == n && d.Day()+7 > lastDay(d) }, nil
	case strings.Contains(field, "#"):
		a, b, _ := strings.Cut(field, "#")
		n, err := cronValue(a, 1, 7, dayNames)
		if err != nil {
			return nil, err
		}
		k, err := strconv.Atoi(b)
		if err != nil || k < 1 || k > 5 {
			return nil, fmt.Errorf("bad %q", field)
		}
		return func(d time.Time) bool { return weekday(d) == n && (d.Day()-1)/7+1 == k }, nil
	}
	set, err := cronSet(field, 1, 7, dayNames)
	if err != nil {
		return nil, err
	}
	return func(d time.Time) bool { return set[weekday(d)] }, nil
}

func (c *cronSchedule) matchesDay(d time.Time) bool {
	if !c.months[int(d.Month())] {
		return false
	}
	if c.dom != nil && !c.dom(d) {
		return false
	}
	return c.dow == nil || c.dow(d)
}

// nextWindowEnd is the end of the first window the expression opens
// after base: Duration long, else an hour for a schedule in hours and the
// rest of the UTC day for one in days. Schedules are at most a year
// apart ("Year: must be *"), so two years of days is far enough to look.
func (c *cronSchedule) nextWindowEnd(base time.Time, window time.Duration, hasWindow bool) (time.Time, bool) {
	base = base.UTC()
	day := base.Truncate(24 * time.Hour)
	for range 2 * 366 {
		if c.matchesDay(day) {
			for h := range 24 {
				open := day.Add(time.Duration(h) * time.Hour)
				if !c.hours[h] || !open.After(base) {
					continue
				}
				switch {
				case hasWindow:
					return open.Add(window), true
				case c.inHours:
					return open.Add(time.Hour), true
				default:
					return day.Add(24 * time.Hour), true
				}
			}
		}
		day = day.AddDate(0, 0, 1)
	}
	return time.Time{}, false
}
