package schemas_test

import (
	"errors"
	"fmt"

	"github.com/insightpulse/pulsehub/schemas"
)

func ExampleValidate() {
	err := schemas.Validate("job", []byte(`{"payload": {"expense_id": 42}, "eta": "tomorrow"}`))
	fmt.Println(err)

	var ve *schemas.ValidationError
	if errors.As(err, &ve) {
		fmt.Println(ve.Problems[0].Pointer, ve.Problems[0].Keyword)
	}
	// Output:
	// job: /eta: 'tomorrow' is not valid date-time: less than 20 characters long [#/properties/eta/format]
	// /eta #/properties/eta/format
}

func ExampleValidateValue() {
	type command struct {
		Op     string         `json:"op"`
		Model  string         `json:"model"`
		ID     []int          `json:"id,omitempty"`
		Values map[string]any `json:"values,omitempty"`
	}
	fmt.Println(schemas.ValidateValue("odoo-cmd", command{Op: "write", Model: "res.partner", Values: map[string]any{"phone": "+32"}}))
	fmt.Println(schemas.ValidateValue("odoo-cmd", command{Op: "write", Model: "res.partner", ID: []int{18}, Values: map[string]any{"phone": "+32"}}))
	// Output:
	// odoo-cmd: missing property 'id' [#/allOf/1/then/required]
	// <nil>
}
