package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// TestTerraform checks deploy/terraform without applying it (that needs an AWS account):
// every file parses as HCL; every var.X used is declared and every declared variable used
// (or documented as an input); every templatefile() names a template that exists and gives
// it every ${name} it interpolates; the outputs an operator needs are there. The user data's
// command lines are parsed by each binary's TestDeployCommands.
func TestTerraform(t *testing.T) {
	dir := "terraform"
	p := hclparse.NewParser()
	files, _ := filepath.Glob(filepath.Join(dir, "*.tf"))
	declared, used := map[string]bool{}, map[string]bool{}
	outputs := map[string]bool{}
	for _, path := range files {
		f, diags := p.ParseHCLFile(path)
		if diags.HasErrors() {
			t.Fatalf("%s: %v", path, diags)
		}
		body := f.Body.(*hclsyntax.Body)
		for _, b := range body.Blocks {
			switch b.Type {
			case "variable":
				declared[b.Labels[0]] = true
			case "output":
				outputs[b.Labels[0]] = true
			}
		}
		diags = hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
			switch e := n.(type) {
			case *hclsyntax.ScopeTraversalExpr:
				if tr := e.Traversal; tr.RootName() == "var" && len(tr) > 1 {
					if a, ok := tr[1].(hcl.TraverseAttr); ok {
						used[a.Name] = true
					}
				}
			case *hclsyntax.FunctionCallExpr:
				if e.Name == "templatefile" {
					checkTemplate(t, dir, path, e)
				}
			}
			return nil
		})
		if diags.HasErrors() {
			t.Fatal(diags)
		}
	}
	for v := range used {
		if !declared[v] {
			t.Errorf("var.%s is used but not declared", v)
		}
	}
	for v := range declared {
		if !used[v] {
			t.Errorf("variable %q is declared but never used", v)
		}
	}
	for _, o := range []string{"coordinator_status_url", "grafana_url", "prometheus_url", "target_url"} {
		if !outputs[o] {
			t.Errorf("no output %s", o)
		}
	}
}

// checkTemplate checks a templatefile("${path.module}/NAME", {k = ...}) call: NAME exists in
// dir, and each ${name} (or %{ for x in name }) the template reads is a key of the map.
func checkTemplate(t *testing.T, dir, src string, call *hclsyntax.FunctionCallExpr) {
	t.Helper()
	if len(call.Args) != 2 {
		t.Errorf("%s: templatefile with %d arguments", src, len(call.Args))
		return
	}
	tmpl, ok := call.Args[0].(*hclsyntax.TemplateExpr)
	if !ok || len(tmpl.Parts) == 0 {
		t.Errorf("%s: templatefile's path is not a literal template", src)
		return
	}
	lit, ok := tmpl.Parts[len(tmpl.Parts)-1].(*hclsyntax.LiteralValueExpr)
	if !ok {
		t.Errorf("%s: templatefile's path does not end in a file name", src)
		return
	}
	name := strings.TrimPrefix(lit.Val.AsString(), "/")
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Error(err)
		return
	}
	obj, ok := call.Args[1].(*hclsyntax.ObjectConsExpr)
	if !ok {
		t.Errorf("%s: templatefile(%s) takes no object of variables", src, name)
		return
	}
	var keys []string
	for _, it := range obj.Items {
		if k, ok := it.KeyExpr.(*hclsyntax.ObjectConsKeyExpr); ok {
			keys = append(keys, hcl.ExprAsKeyword(k.Wrapped))
		}
	}
	// The template's own loop variables are not inputs.
	loopVars := map[string]bool{}
	for _, m := range regexp.MustCompile(`%\{\s*for\s+(\w+)(?:\s*,\s*(\w+))?\s+in\s+(\w+)`).FindAllStringSubmatch(string(b), -1) {
		loopVars[m[1]], loopVars[m[2]] = true, true
		if !slices.Contains(keys, m[3]) {
			t.Errorf("%s: %s loops over %s, which templatefile does not give it (it gives %v)", src, name, m[3], keys)
		}
	}
	for _, m := range regexp.MustCompile(`(^|[^$])\$\{\s*(\w+)`).FindAllStringSubmatch(string(b), -1) {
		if v := m[2]; !loopVars[v] && !slices.Contains(keys, v) {
			t.Errorf("%s: %s reads ${%s}, which templatefile does not give it (it gives %v)", src, name, v, keys)
		}
	}
}
