package odootest

import (
	"slices"
	"sort"
	"strings"
)

// FieldType is an Odoo field type.
type FieldType string

// The field types the fake knows.
const (
	Char      FieldType = "char"
	Text      FieldType = "text"
	HTML      FieldType = "html"
	Integer   FieldType = "integer"
	Float     FieldType = "float"
	Monetary  FieldType = "monetary"
	Boolean   FieldType = "boolean"
	Date      FieldType = "date"
	Datetime  FieldType = "datetime"
	Selection FieldType = "selection"
	Many2one  FieldType = "many2one"
	One2many  FieldType = "one2many"
	Many2many FieldType = "many2many"
)

// Field declares one field of a Model.
type Field struct {
	Type     FieldType
	String   string   // label used in messages; default derived from the name as Odoo does
	Relation string   // the comodel of a many2one, one2many or many2many
	Inverse  string   // the many2one on Relation that a one2many lists
	Values   []string // the keys of a selection
	Required bool     // NOT NULL: creating without it is a fault 2
	Default  any      // the value create uses when none is given
}

// Model declares one Odoo model. id, display_name, create_date and
// write_date are automatic.
type Model struct {
	Name        string           // "res.partner"
	Description string           // "Contact"; used in messages, default Name
	Fields      map[string]Field // the declared fields
	Unique      []string         // fields whose set values must be unique, each on its own
	Order       string           // the default order, like _order; default "id"
	RecName     string           // the field display_name shows; default "name"
}

// magicFields are on every model.
var magicFields = map[string]Field{
	"id":           {Type: Integer, String: "ID"},
	"display_name": {Type: Char, String: "Display Name"},
	"create_date":  {Type: Datetime, String: "Created on"},
	"write_date":   {Type: Datetime, String: "Last Updated on"},
}

// field looks up a declared or automatic field.
func (m *Model) field(name string) (Field, bool) {
	if f, ok := m.Fields[name]; ok {
		return f, true
	}
	f, ok := magicFields[name]
	return f, ok
}

// fieldNames lists every field, sorted, as a read without fields returns them.
func (m *Model) fieldNames() []string {
	names := make([]string, 0, len(m.Fields)+len(magicFields))
	for n := range m.Fields {
		names = append(names, n)
	}
	for n := range magicFields {
		if _, dup := m.Fields[n]; !dup {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

func (m *Model) description() string {
	if m.Description != "" {
		return m.Description
	}
	return m.Name
}

// label is the field's String, or the name made readable as Odoo does:
// "parent_id" is "Parent", "x_github_issue_id" is "X Github Issue".
func (f Field) label(name string) string {
	if f.String != "" {
		return f.String
	}
	name = strings.TrimSuffix(strings.TrimSuffix(name, "_ids"), "_id")
	words := strings.Fields(strings.ReplaceAll(name, "_", " "))
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(words, " ")
}

func (f Field) relational() bool {
	return f.Type == Many2one || f.Type == One2many || f.Type == Many2many
}

var companyField = Field{Type: Many2one, Relation: "res.company", String: "Company"}

// DefaultModels are the models a new fake starts with: enough of base,
// contacts, project and hr_expense for the hub's routes.
func DefaultModels() []Model {
	return slices.Concat(baseModels(), projectModels(), expenseModels())
}

func baseModels() []Model {
	return []Model{
		{Name: "res.company", Description: "Companies", Fields: map[string]Field{
			"name":       {Type: Char, Required: true, String: "Company Name"},
			"partner_id": {Type: Many2one, Relation: "res.partner", String: "Partner"},
		}},
		{Name: "res.users", Description: "User", Fields: map[string]Field{
			"name":       {Type: Char, Required: true},
			"login":      {Type: Char, Required: true},
			"partner_id": {Type: Many2one, Relation: "res.partner", String: "Related Partner"},
			"company_id": companyField,
			"active":     {Type: Boolean, Default: true},
		}, Unique: []string{"login"}},
		{Name: "res.country", Description: "Country", Fields: map[string]Field{
			"name": {Type: Char, Required: true, String: "Country Name"},
			"code": {Type: Char, String: "Country Code"},
		}},
		{Name: "res.partner.category", Description: "Partner Tags", Fields: map[string]Field{
			"name": {Type: Char, Required: true, String: "Tag Name"},
		}},
		{Name: "res.partner", Description: "Contact", Order: "name, id desc", Fields: map[string]Field{
			"name":        {Type: Char, Required: true},
			"email":       {Type: Char},
			"phone":       {Type: Char},
			"mobile":      {Type: Char},
			"ref":         {Type: Char, String: "Reference"},
			"vat":         {Type: Char, String: "Tax ID"},
			"website":     {Type: Char, String: "Website Link"},
			"street":      {Type: Char},
			"city":        {Type: Char},
			"zip":         {Type: Char},
			"function":    {Type: Char, String: "Job Position"},
			"comment":     {Type: HTML, String: "Notes"},
			"is_company":  {Type: Boolean, String: "Is a Company"},
			"active":      {Type: Boolean, Default: true},
			"type":        {Type: Selection, Values: []string{"contact", "invoice", "delivery", "other"}, Default: "contact", String: "Address Type"},
			"parent_id":   {Type: Many2one, Relation: "res.partner", String: "Related Company"},
			"child_ids":   {Type: One2many, Relation: "res.partner", Inverse: "parent_id", String: "Contact"},
			"company_id":  companyField,
			"country_id":  {Type: Many2one, Relation: "res.country", String: "Country"},
			"category_id": {Type: Many2many, Relation: "res.partner.category", String: "Tags"},
			"user_id":     {Type: Many2one, Relation: "res.users", String: "Salesperson"},
		}},
		{Name: "ir.model.data", Description: "Model Data", Order: "module, model, name", RecName: "complete_name", Fields: map[string]Field{
			"name":          {Type: Char, Required: true, String: "External Identifier"},
			"module":        {Type: Char, Required: true},
			"model":         {Type: Char, Required: true, String: "Model Name"},
			"res_id":        {Type: Integer, String: "Record ID"},
			"noupdate":      {Type: Boolean, String: "Non Updatable"},
			"complete_name": {Type: Char, String: "Complete ID"},
		}},
		{Name: "ir.attachment", Description: "Attachment", Fields: map[string]Field{
			"name":      {Type: Char, Required: true},
			"res_model": {Type: Char, String: "Resource Model"},
			"res_id":    {Type: Integer, String: "Resource ID"},
			"mimetype":  {Type: Char, String: "Mime Type"},
			"url":       {Type: Char},
		}},
	}
}

func projectModels() []Model {
	return []Model{
		{Name: "project.project", Description: "Project", Order: "sequence, name, id", Fields: map[string]Field{
			"name":        {Type: Char, Required: true},
			"description": {Type: HTML},
			"sequence":    {Type: Integer, Default: int64(10)},
			"active":      {Type: Boolean, Default: true},
			"partner_id":  {Type: Many2one, Relation: "res.partner", String: "Customer"},
			"user_id":     {Type: Many2one, Relation: "res.users", String: "Project Manager"},
			"company_id":  companyField,
			"task_ids":    {Type: One2many, Relation: "project.task", Inverse: "project_id", String: "Tasks"},
		}},
		{Name: "project.task.type", Description: "Task Stage", Order: "sequence, id", Fields: map[string]Field{
			"name":     {Type: Char, Required: true, String: "Name"},
			"sequence": {Type: Integer, Default: int64(1)},
			"fold":     {Type: Boolean, String: "Folded in Kanban"},
		}},
		{Name: "project.tags", Description: "Project Tags", Fields: map[string]Field{
			"name": {Type: Char, Required: true},
		}},
		{Name: "project.task", Description: "Task", Order: "priority desc, sequence, id desc", Fields: map[string]Field{
			"name":              {Type: Char, Required: true, String: "Title"},
			"description":       {Type: HTML},
			"sequence":          {Type: Integer, Default: int64(10)},
			"active":            {Type: Boolean, Default: true},
			"priority":          {Type: Selection, Values: []string{"0", "1"}, Default: "0"},
			"project_id":        {Type: Many2one, Relation: "project.project", String: "Project"},
			"stage_id":          {Type: Many2one, Relation: "project.task.type", String: "Stage"},
			"parent_id":         {Type: Many2one, Relation: "project.task", String: "Parent Task"},
			"partner_id":        {Type: Many2one, Relation: "res.partner", String: "Customer"},
			"company_id":        companyField,
			"user_ids":          {Type: Many2many, Relation: "res.users", String: "Assignees"},
			"tag_ids":           {Type: Many2many, Relation: "project.tags", String: "Tags"},
			"date_deadline":     {Type: Datetime, String: "Deadline"},
			"x_github_issue_id": {Type: Integer, String: "GitHub Issue ID"},
			"x_github_url":      {Type: Char, String: "GitHub URL"},
		}},
	}
}

func expenseModels() []Model {
	return []Model{
		{Name: "hr.employee", Description: "Employee", Fields: map[string]Field{
			"name":       {Type: Char, Required: true, String: "Employee Name"},
			"work_email": {Type: Char},
			"company_id": companyField,
		}},
		{Name: "hr.expense", Description: "Expense", Order: "date desc, id desc", Fields: map[string]Field{
			"name":          {Type: Char, Required: true, String: "Description"},
			"description":   {Type: Text, String: "Internal Notes"},
			"total_amount":  {Type: Monetary, String: "Total"},
			"date":          {Type: Date, String: "Expense Date"},
			"employee_id":   {Type: Many2one, Relation: "hr.employee", String: "Employee"},
			"company_id":    companyField,
			"attachment_id": {Type: Many2one, Relation: "ir.attachment", String: "Attachment"},
			"state":         {Type: Selection, Values: []string{"draft", "reported", "submitted", "approved", "done", "refused"}, Default: "draft", String: "Status"},
			"x_ocr_total":   {Type: Float, String: "OCR Total"},
			"x_ocr_vendor":  {Type: Char, String: "OCR Vendor"},
		}},
	}
}
