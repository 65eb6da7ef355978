// Small PromQL string helpers shared by rules, alerts, dashboards and tests.
{
  // Joins non-empty matcher strings into one selector body.
  matchers(parts):: std.join(', ', std.filter(function(p) p != '', parts)),

  // A vector selector over one metric name, or several names (renamed across engine versions).
  selector(names, parts=[])::
    local ns = if std.isArray(names) then names else [names];
    local ms = self.matchers(parts);
    if std.length(ns) == 1 then
      ns[0] + (if ms == '' then '' else '{' + ms + '}')
    else
      '{' + self.matchers(['__name__=~"' + std.join('|', ns) + '"'] + parts) + '}',

  // Appends a suffix (_sum, _count, _bucket) to every name.
  suffixed(names, suffix):: [n + suffix for n in (if std.isArray(names) then names else [names])],

  by(labels):: std.join(', ', labels),

  // Recorded-name fragment of a raw engine metric: "sglang:token_usage" -> "sglang_token_usage".
  flat(name):: std.strReplace(name, ':', '_'),
}
