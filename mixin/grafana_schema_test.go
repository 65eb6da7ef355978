package mixin

// The committed dashboards against Grafana's own dashboard types: the Go types that
// grafana-foundation-sdk generates from Grafana's schema (docs/install.md names the versions),
// decoded strictly (an unknown or mistyped field anywhere is an error), plus what strict
// decoding leaves open: panel types Grafana ships, Prometheus queries on the dashboard's
// datasource variable, variable types and references.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	grafana "github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
)

// Variable types Grafana's dashboard schema defines (grafana.VariableType).
var grafanaVariableTypes = []grafana.VariableType{
	grafana.VariableTypeQuery, grafana.VariableTypeAdhoc, grafana.VariableTypeGroupby,
	grafana.VariableTypeConstant, grafana.VariableTypeDatasource, grafana.VariableTypeInterval,
	grafana.VariableTypeTextbox, grafana.VariableTypeCustom, grafana.VariableTypeSwitch,
}

// Grafana's global variables (https://grafana.com/docs/grafana/latest/dashboards/variables/add-template-variables/#global-variables).
var grafanaGlobals = []string{"__interval", "__interval_ms", "__rate_interval", "__rate_interval_ms",
	"__range", "__range_s", "__range_ms", "__from", "__to", "__dashboard", "__name", "__org", "__user",
	"__timeFilter", "timeFilter", "__auto"}

// grafanaVarRef matches $name, ${name} and ${name:format}, the forms Grafana interpolates.
var grafanaVarRef = regexp.MustCompile(`\$(?:\{([A-Za-z0-9_]+)(?::[^}]*)?\}|([A-Za-z0-9_]+))`)

func TestDashboardsDecodeWithGrafanaTypes(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	files, err := filepath.Glob("../dashboards/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			for _, problem := range checkGrafanaDashboard(raw) {
				t.Error(problem)
			}
		})
	}
}

// checkGrafanaDashboard lists what Grafana would not understand in a dashboard's JSON.
func checkGrafanaDashboard(raw []byte) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	var d grafana.Dashboard
	if err := strictErr(d.UnmarshalJSONStrict(raw)); err != nil {
		for _, line := range strings.Split(strings.TrimSpace(err.Error()), "\n") {
			bad("strict decoding: %s", line)
		}
		return problems
	}
	// The dashboard's field configs: strict decoding of a panel checks only their custom part.
	var loose struct {
		Panels []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal(raw, &loose); err != nil {
		return append(problems, err.Error())
	}
	for _, p := range allRawPanels(loose.Panels) {
		var fc struct {
			FieldConfig json.RawMessage `json:"fieldConfig"`
		}
		if json.Unmarshal(p, &fc) == nil && fc.FieldConfig != nil {
			if err := fieldConfigStrict(fc.FieldConfig); err != nil {
				bad("fieldConfig: %v", err)
			}
		}
	}

	// Variables: known types; one datasource variable of Prometheus, which every query
	// variable uses.
	vars := map[string]grafana.VariableModel{}
	dsVar := ""
	for _, v := range d.Templating.List {
		if !slices.Contains(grafanaVariableTypes, v.Type) {
			bad("variable %q: type %q is not a Grafana variable type", v.Name, v.Type)
		}
		if _, dup := vars[v.Name]; dup {
			bad("variable %q is defined twice", v.Name)
		}
		vars[v.Name] = v
		if v.Type == grafana.VariableTypeDatasource {
			if v.Query == nil || v.Query.String == nil || *v.Query.String != "prometheus" {
				bad("datasource variable %q: query %v, want the plugin id \"prometheus\"", v.Name, v.Query)
			}
			dsVar = v.Name
		}
	}
	if dsVar == "" {
		bad("no datasource variable: the panels would be bound to one datasource uid")
	}
	// usesVars checks that every variable s references is defined or a Grafana global.
	usesVars := func(where, s string) {
		for _, m := range grafanaVarRef.FindAllStringSubmatch(s, -1) {
			name := m[1] + m[2]
			if _, ok := vars[name]; !ok && !slices.Contains(grafanaGlobals, name) {
				bad("%s: $%s is neither a variable of the dashboard nor a Grafana global", where, name)
			}
		}
	}
	// A Prometheus datasource reference through the datasource variable.
	promRef := func(where string, ref *common.DataSourceRef) {
		switch {
		case ref == nil:
			bad("%s: no datasource (Grafana would use its default one, not $%s)", where, dsVar)
		case ref.Type == nil || *ref.Type != "prometheus":
			bad("%s: datasource type %v, want \"prometheus\"", where, ref.Type)
		case ref.Uid == nil || (*ref.Uid != "${"+dsVar+"}" && *ref.Uid != "$"+dsVar):
			bad("%s: datasource uid %v, want ${%s}", where, ref.Uid, dsVar)
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != grafana.VariableTypeQuery {
			continue
		}
		where := fmt.Sprintf("variable %q", v.Name)
		promRef(where, v.Datasource)
		if v.Query != nil {
			q := ""
			if v.Query.String != nil {
				q = *v.Query.String
			} else if s, ok := v.Query.Map["query"].(string); ok {
				q = s
			}
			if q == "" {
				bad("%s: empty query", where)
			}
			usesVars(where, q)
			if strings.Contains(q, "$"+v.Name) || strings.Contains(q, "${"+v.Name+"}") {
				bad("%s: its query uses the variable itself", where)
			}
		}
	}

	// Panels: types Grafana ships, Prometheus queries on the datasource variable. Decoded one by
	// one: the SDK's strict decoders return an empty error list as a non-nil error, so the
	// dashboard's decoder reports every problem but keeps no panel and no query (a panel
	// decoded on its own keeps its fields).
	for _, rawPanel := range allRawPanels(loose.Panels) {
		var p grafana.Panel
		if strictErr(p.UnmarshalJSONStrict(rawPanel)) != nil || p.Type == "row" {
			continue // reported above, or a row (rows hold no queries)
		}
		title := ""
		if p.Title != nil {
			title = *p.Title
		}
		where := fmt.Sprintf("panel %q", title)
		usesVars(where+" title", title)
		if _, ok := cog.ConfigForPanelcfgVariant(p.Type); !ok {
			bad("%s: type %q is not a panel type Grafana ships", where, p.Type)
		}
		promRef(where, p.Datasource)
		var targets struct {
			Targets []json.RawMessage `json:"targets"`
		}
		if err := json.Unmarshal(rawPanel, &targets); err != nil || len(targets.Targets) == 0 {
			bad("%s: no queries", where)
			continue
		}
		for i, rawTarget := range targets.Targets {
			var q prometheus.Dataquery
			if err := strictErr(q.UnmarshalJSONStrict(rawTarget)); err != nil {
				bad("%s: target %d is not a Prometheus query: %v", where, i, err)
				continue
			}
			at := fmt.Sprintf("%s target %d", where, i)
			if q.Expr == "" {
				bad("%s has no expr", at)
			}
			if q.Datasource != nil {
				promRef(at, q.Datasource)
			}
			usesVars(at, q.Expr)
			if q.LegendFormat != nil {
				usesVars(at+" legend", *q.LegendFormat)
			}
		}
	}
	return problems
}

// allRawPanels lists the panels of a dashboard (rows and what they hold) as raw JSON.
func allRawPanels(ps []json.RawMessage) []json.RawMessage {
	var out []json.RawMessage
	for _, p := range ps {
		out = append(out, p)
		var row struct {
			Panels []json.RawMessage `json:"panels"`
		}
		if json.Unmarshal(p, &row) == nil {
			out = append(out, allRawPanels(row.Panels)...)
		}
	}
	return out
}

// fieldConfigStrict decodes a panel's fieldConfig strictly, but for defaults.custom (which the
// panel's own strict decoding checks against its panel type).
func fieldConfigStrict(raw json.RawMessage) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return err
	}
	if defaults, ok := fields["defaults"]; ok {
		var d map[string]json.RawMessage
		if err := json.Unmarshal(defaults, &d); err != nil {
			return err
		}
		delete(d, "custom")
		b, _ := json.Marshal(d)
		fields["defaults"] = b
	}
	b, _ := json.Marshal(fields)
	var fc grafana.FieldConfigSource
	return strictErr(fc.UnmarshalJSONStrict(b))
}

// strictErr: the SDK's strict decoders return their list of errors as an error even when it is
// empty.
func strictErr(err error) error {
	var errs cog.BuildErrors
	if errors.As(err, &errs) && len(errs) == 0 {
		return nil
	}
	return err
}

// Each mistake Grafana would not understand, made in a copy of a committed dashboard, is found.
func TestGrafanaDashboardCheckFindsMistakes(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	raw, err := os.ReadFile("../dashboards/llm-gpu-fabric.json")
	if err != nil {
		t.Fatal(err)
	}
	if problems := checkGrafanaDashboard(raw); len(problems) > 0 {
		t.Fatalf("the committed dashboard itself has problems: %v", problems)
	}
	// firstPanel is the first panel that is not a row.
	firstPanel := func(d map[string]any) map[string]any {
		for _, p := range d["panels"].([]any) {
			if p := p.(map[string]any); p["type"] != "row" {
				return p
			}
		}
		t.Fatal("no panel")
		return nil
	}
	for _, c := range []struct {
		name   string
		mutate func(d map[string]any)
		want   string
	}{
		{"unknown panel field", func(d map[string]any) { firstPanel(d)["tittle"] = "x" }, "unexpected field 'tittle'"},
		{"unknown dashboard field", func(d map[string]any) { d["refreshes"] = "30s" }, "unexpected field 'refreshes'"},
		{"legend without calcs", func(d map[string]any) {
			delete(firstPanel(d)["options"].(map[string]any)["legend"].(map[string]any), "calcs")
		}, "legend.calcs: required field is missing"},
		{"unknown fieldConfig field", func(d map[string]any) {
			firstPanel(d)["fieldConfig"].(map[string]any)["defaults"].(map[string]any)["unitt"] = "s"
		}, "unexpected field 'unitt'"},
		{"wrong type of a field", func(d map[string]any) { firstPanel(d)["gridPos"].(map[string]any)["w"] = "8" }, "gridPos"},
		{"unknown panel type", func(d map[string]any) { firstPanel(d)["type"] = "timeserie" }, `type "timeserie" is not a panel type`},
		{"datasource of another type", func(d map[string]any) {
			firstPanel(d)["datasource"] = map[string]any{"type": "loki", "uid": "${datasource}"}
		}, `datasource type`},
		{"datasource bound to one uid", func(d map[string]any) {
			firstPanel(d)["datasource"] = map[string]any{"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}
		}, "want ${datasource}"},
		{"undefined variable", func(d map[string]any) {
			tg := firstPanel(d)["targets"].([]any)[0].(map[string]any)
			tg["expr"] = tg["expr"].(string) + ` * on() group_left() vector($clusterx)`
		}, "$clusterx is neither"},
		{"unknown variable type", func(d map[string]any) {
			d["templating"].(map[string]any)["list"].([]any)[1].(map[string]any)["type"] = "querry"
		}, `type "querry" is not a Grafana variable type`},
		{"no datasource variable", func(d map[string]any) {
			tm := d["templating"].(map[string]any)
			tm["list"] = tm["list"].([]any)[1:]
		}, "no datasource variable"},
		{"unknown query field", func(d map[string]any) {
			firstPanel(d)["targets"].([]any)[0].(map[string]any)["exprs"] = "up"
		}, "unexpected field 'exprs'"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var d map[string]any
			if err := json.Unmarshal(raw, &d); err != nil {
				t.Fatal(err)
			}
			c.mutate(d)
			b, _ := json.Marshal(d)
			problems := checkGrafanaDashboard(b)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, c.want) }) {
				t.Errorf("want a problem with %q, got %q", c.want, problems)
			}
		})
	}
}
