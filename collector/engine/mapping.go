package engine

// The normalisation table as data, for the rules pack: tools/enginemapping
// writes it to mixin/lib/engine-mapping.json, so that the recording rules that
// read the engines' own series use the same table as the exporter.

// MappingFamily is one normalised llm_engine_* family (name without the prefix).
type MappingFamily struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // gauge, counter or histogram
	// Extra is the family's first extra label ("" for none), Extras all of them.
	Extra  string   `json:"extra"`
	Extras []string `json:"extras"`
}

// MappingLabel gives one extra label its value: Value, or the source label From.
type MappingLabel struct {
	From  string `json:"from,omitempty"`
	Value string `json:"value,omitempty"`
	Lower bool   `json:"lower,omitempty"` // From's value lower-cased
}

// MappingRow is one row of the table: the engine families (in order of
// preference) that feed one normalised family.
type MappingRow struct {
	Family  string   `json:"family"`
	Sources []string `json:"sources"`
	// ExtraFrom and ExtraValue are Labels[0]'s, for a family with one extra label.
	ExtraFrom  string         `json:"extraFrom"`
	ExtraValue string         `json:"extraValue"`
	Labels     []MappingLabel `json:"labels"`
	WhereLabel string         `json:"whereLabel"`
	WhereValue string         `json:"whereValue"`
	// Unless: the row is skipped on a page printing this family.
	Unless string `json:"unless,omitempty"`
	// Mul and Div convert the source's unit: value × Mul ÷ Div (0: 1).
	Mul float64 `json:"mul,omitempty"`
	Div float64 `json:"div,omitempty"`
	// DropNaN: a NaN source value is left out.
	DropNaN bool `json:"dropNaN,omitempty"`
	// Split names a row that is not one series per source series.
	Split string `json:"split,omitempty"`
}

// Mapping is the whole table.
type Mapping struct {
	Families []MappingFamily `json:"families"`
	Rows     []MappingRow    `json:"rows"`
}

var kindNames = map[kind]string{kindGauge: "gauge", kindCounter: "counter", kindHistogram: "histogram"}

var splitNames = map[splitKind]string{splitNone: "", splitLoRAAdapters: "lora_adapters", splitLoRAMax: "lora_max_adapters"}

// Table returns the normalisation table: every family in exposition order and
// every row in order of preference.
func Table() Mapping {
	var m Mapping
	for _, f := range families {
		mf := MappingFamily{Name: f.name, Kind: kindNames[f.kind], Extras: append([]string{}, f.extra...)}
		if len(f.extra) > 0 {
			mf.Extra = f.extra[0]
		}
		m.Families = append(m.Families, mf)
	}
	for _, r := range table {
		mr := MappingRow{Family: r.out.name, Sources: append([]string{}, r.sources...),
			WhereLabel: r.whereLabel, WhereValue: r.whereValue, Unless: r.unless,
			Mul: r.mul, Div: r.div, DropNaN: r.dropNaN, Split: splitNames[r.split], Labels: []MappingLabel{}}
		for _, l := range r.extra {
			mr.Labels = append(mr.Labels, MappingLabel{From: l.from, Value: l.value, Lower: l.lower})
		}
		if len(r.extra) > 0 {
			mr.ExtraFrom, mr.ExtraValue = r.extra[0].from, r.extra[0].value
		}
		m.Rows = append(m.Rows, mr)
	}
	return m
}
