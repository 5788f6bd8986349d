package odoo_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/odoo/odootest"
)

func Example() {
	fake, err := odootest.NewServer()
	if err != nil {
		panic(err)
	}
	defer fake.Close()

	c, err := odoo.New(fake.Config(odoo.TransportXMLRPC)) // or TransportJSON2
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	ids, err := c.Create(ctx, "project.task", []map[string]any{{"name": "Fix login", "x_github_issue_id": 42}})
	if err != nil {
		panic(err)
	}
	recs, err := c.SearchRead(ctx, "project.task", []any{[]any{"x_github_issue_id", "=", 42}},
		[]string{"name", "project_id"}, odoo.SearchOptions{Limit: 1})
	if err != nil {
		panic(err)
	}
	_, _, hasProject := recs[0].Many2One("project_id")
	fmt.Println(len(ids), recs[0].String("name"), hasProject)

	err = c.Write(ctx, "project.task", []int64{99999999}, map[string]any{"name": "x"})
	var f *odoo.Fault
	if errors.As(err, &f) {
		fmt.Println(f.Code, f.Transient(), odoo.IsMissingRecord(err))
	}
	// Output:
	// 1 Fix login false
	// 2 false true
}
