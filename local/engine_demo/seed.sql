-- The local runner's demo data: two branches, five customers, a loan each. Safe to run again
-- (ON CONFLICT DO NOTHING), so a DATABASE_URL that was seeded before is left as it is.

INSERT INTO branches (branch_code, branch_name, region_code) VALUES
    ('BR001', 'Chennai Central', 'TN'),
    ('BR002', 'Madurai East', 'TN')
ON CONFLICT (branch_code) DO NOTHING;

INSERT INTO customers (customer_number, full_name, mobile_number, email, kyc_status) VALUES
    ('DEMO0001', 'Ravi Kumar', '9876543210', 'ravi.kumar@example.com', 'VERIFIED'),
    ('DEMO0002', 'Lakshmi Narayanan', '+919123456780', 'lakshmi.n@example.com', 'VERIFIED'),
    ('DEMO0003', 'Suresh Babu', '9000011111', NULL, 'VERIFIED'),
    ('DEMO0004', 'Asha Devi', '8000012345', NULL, 'VERIFIED'),
    ('DEMO0005', 'Meena Subramanian', '7000022222', 'meena.s@example.com', 'VERIFIED')
ON CONFLICT (customer_number) DO NOTHING;

INSERT INTO loan_accounts (
    loan_account_number, customer_id, loan_type, principal_amount, outstanding_balance,
    emi_amount, next_due_date, loan_status, branch_code, overdue_amount, days_past_due
)
SELECT l.loan_account_number, c.customer_id, l.loan_type, l.principal, l.outstanding, l.emi,
       l.next_due, l.status, l.branch_code, l.overdue, l.dpd
FROM (VALUES
    -- Active, paid up to date.
    ('DEMO0001', 'LN0000000001', 'HL', 2500000.00, 1850000.00, 21500.00,
     current_date + 12, 'ACTIVE', 'BR001', 0.00, 0),
    -- Active but behind: two EMIs overdue.
    ('DEMO0002', 'LN0000000002', 'LAP', 800000.00, 612345.50, 18000.00,
     current_date - 40, 'ACTIVE', 'BR002', 36000.00, 40),
    -- Non-performing: more than 90 days past due.
    ('DEMO0003', 'LN0000000003', 'LAP', 500000.00, 430000.00, 12000.00,
     current_date - 120, 'NPA', 'BR002', 48000.00, 120),
    -- Closed: takes no payment.
    ('DEMO0004', 'LN0000000004', 'HL', 900000.00, 0.00, 9500.00,
     NULL, 'CLOSED', 'BR001', 0.00, 0),
    -- A second active loan, at the other branch.
    ('DEMO0005', 'LN0000000005', 'HL', 1200000.00, 975000.00, 11250.00,
     current_date + 5, 'ACTIVE', 'BR002', 0.00, 0)
) AS l (customer_number, loan_account_number, loan_type, principal, outstanding, emi,
        next_due, status, branch_code, overdue, dpd)
JOIN customers c ON c.customer_number = l.customer_number
ON CONFLICT (loan_account_number) DO NOTHING;

-- Staff of every role in both branches, and head office (engine.models.rbac.ROLES; the roles
-- rows come from the declaration, written by the migrator). `POST /local/token?user=NAME`
-- signs one in: cashier.br001, manager.br001, officer.br001, cashier2.br001 (a second
-- cashier, for maker-checker), the same .br002, finance.ho, admin.ho, superadmin.ho, and
-- leaver.br001 (inactive: refused everywhere).
INSERT INTO users (username, email, role_id, branch_code, is_active)
SELECT s.username, s.username || '@staff.example.com', r.role_id, s.branch_code, s.active
FROM (VALUES
    ('cashier.br001', 'BranchCashier', 'BR001', true),
    ('cashier2.br001', 'BranchCashier', 'BR001', true),
    ('manager.br001', 'BranchManager', 'BR001', true),
    ('officer.br001', 'FieldOfficer', 'BR001', true),
    ('leaver.br001', 'BranchCashier', 'BR001', false),
    ('cashier.br002', 'BranchCashier', 'BR002', true),
    ('manager.br002', 'BranchManager', 'BR002', true),
    ('officer.br002', 'FieldOfficer', 'BR002', true),
    ('finance.ho', 'FinanceTeam', NULL, true),
    ('admin.ho', 'Admin', NULL, true),
    ('superadmin.ho', 'SuperAdmin', NULL, true)
) AS s (username, role_name, branch_code, active)
JOIN roles r ON r.role_name = s.role_name
ON CONFLICT (username) DO NOTHING;
