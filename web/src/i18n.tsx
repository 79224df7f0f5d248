import { createContext, type ReactNode, useContext, useState } from 'react';

export type Lang = 'en' | 'ru';

const en = {
  appName: 'Billfold',
  signIn: 'Sign in',
  signInTitle: 'Sign in to your account',
  email: 'Email',
  password: 'Password',
  signOut: 'Sign out',
  signedOut: 'You are signed out.',
  language: 'Language',
  navServices: 'Services',
  mainNavigation: 'Main navigation',
  openNavigation: 'Open navigation',
  services: 'Services',
  service: 'Service',
  status: 'Status',
  expires: 'Expires',
  ip: 'IP address',
  noServices: 'You have no services yet.',
  loading: 'Loading…',
  retry: 'Try again',
  newer: 'Newer',
  older: 'Older',
  back: 'All services',
  licenseKey: 'License key',
  copy: 'Copy',
  copied: 'Copied',
  keyCopied: 'The license key is in your clipboard.',
  keyBeingIssued: 'The key is being issued; it appears here when it is ready.',
  noLicense: 'This service has no license key.',
  operations: 'Operations',
  noOperations: 'Nothing is in progress.',
  operation: 'Operation',
  started: 'Started',
  period: 'Period',
  months: (n: number) => (n === 1 ? '1 month' : `${n} months`),
  autoRenew: 'Auto-renew',
  off: 'off',
  notFoundTitle: 'Not found',
  notFoundText: 'There is no such page, or it belongs to another account.',
  toServices: 'Go to your services',
  somethingWrong: 'Something went wrong',
  never: '—',
  serviceStatus: {
    ordered: 'ordered',
    processing: 'being set up',
    active: 'active',
    suspended: 'suspended',
    deleted: 'deleted',
  } as Record<string, string>,
  opKind: {
    open: 'Setting up',
    prolong: 'Renewal',
    suspend: 'Suspension',
    resume: 'Resumption',
    close: 'Removal',
    set_param: 'Change',
  } as Record<string, string>,
  opState: {
    being_set_up: 'being set up',
    in_progress: 'in progress',
    retrying: 'retrying after a temporary failure',
    waiting_for_staff: 'waiting for staff',
    done: 'done',
    failed: 'failed',
    cancelled: 'cancelled',
  } as Record<string, string>,
  errors: {
    invalid_credentials: 'The email or password is wrong. Check them and try again.',
    too_many_login_attempts: 'Too many sign-in attempts. Wait a few minutes, then try again.',
    unauthenticated: 'Your session has ended. Sign in again.',
    csrf_token_invalid: 'Your session is out of date. Reload the page and try again.',
    forbidden: 'You may not do this. Ask your provider if you need it.',
    service_not_found: 'There is no such service in your account.',
    validation_failed: 'Some fields are not filled in correctly. Check them and try again.',
    not_a_license: 'This service is not a license.',
    internal_error: 'The server failed. Try again later; if it persists, contact your provider.',
    network_error: 'The server cannot be reached. Check your connection and try again.',
    copy_failed: 'The browser did not allow copying. Select the key and copy it by hand.',
  } as Record<string, string>,
  unknownError: (code: string) => `The request was refused (${code}). Try again or contact your provider.`,
};

type Messages = typeof en;

const ru: Messages = {
  appName: 'Billfold',
  signIn: 'Войти',
  signInTitle: 'Вход в личный кабинет',
  email: 'Эл. почта',
  password: 'Пароль',
  signOut: 'Выйти',
  signedOut: 'Вы вышли из кабинета.',
  language: 'Язык',
  navServices: 'Услуги',
  mainNavigation: 'Основное меню',
  openNavigation: 'Открыть меню',
  services: 'Услуги',
  service: 'Услуга',
  status: 'Состояние',
  expires: 'Действует до',
  ip: 'IP-адрес',
  noServices: 'У вас пока нет услуг.',
  loading: 'Загрузка…',
  retry: 'Повторить',
  newer: 'Новее',
  older: 'Старше',
  back: 'Все услуги',
  licenseKey: 'Лицензионный ключ',
  copy: 'Копировать',
  copied: 'Скопировано',
  keyCopied: 'Лицензионный ключ скопирован в буфер обмена.',
  keyBeingIssued: 'Ключ выпускается; он появится здесь, когда будет готов.',
  noLicense: 'У этой услуги нет лицензионного ключа.',
  operations: 'Операции',
  noOperations: 'Сейчас ничего не выполняется.',
  operation: 'Операция',
  started: 'Начата',
  period: 'Период',
  months: (n: number) => `${n} мес.`,
  autoRenew: 'Автопродление',
  off: 'выключено',
  notFoundTitle: 'Не найдено',
  notFoundText: 'Такой страницы нет, или она принадлежит другому клиенту.',
  toServices: 'К вашим услугам',
  somethingWrong: 'Что-то пошло не так',
  never: '—',
  serviceStatus: {
    ordered: 'заказана',
    processing: 'подключается',
    active: 'активна',
    suspended: 'приостановлена',
    deleted: 'удалена',
  },
  opKind: {
    open: 'Подключение',
    prolong: 'Продление',
    suspend: 'Приостановка',
    resume: 'Возобновление',
    close: 'Удаление',
    set_param: 'Изменение',
  },
  opState: {
    being_set_up: 'подключается',
    in_progress: 'выполняется',
    retrying: 'повтор после временной ошибки',
    waiting_for_staff: 'ждёт сотрудника',
    done: 'выполнена',
    failed: 'не удалась',
    cancelled: 'отменена',
  },
  errors: {
    invalid_credentials: 'Неверная почта или пароль. Проверьте их и попробуйте снова.',
    too_many_login_attempts: 'Слишком много попыток входа. Подождите несколько минут и попробуйте снова.',
    unauthenticated: 'Сеанс завершён. Войдите снова.',
    csrf_token_invalid: 'Сеанс устарел. Обновите страницу и повторите действие.',
    forbidden: 'Это действие вам недоступно. Обратитесь к провайдеру, если оно нужно.',
    service_not_found: 'В вашем кабинете нет такой услуги.',
    validation_failed: 'Некоторые поля заполнены неверно. Проверьте их и попробуйте снова.',
    not_a_license: 'Эта услуга не является лицензией.',
    internal_error: 'Ошибка на сервере. Попробуйте позже; если повторяется, обратитесь к провайдеру.',
    network_error: 'Сервер недоступен. Проверьте подключение и попробуйте снова.',
    copy_failed: 'Браузер не разрешил копирование. Выделите ключ и скопируйте его вручную.',
  },
  unknownError: (code: string) => `Запрос отклонён (${code}). Попробуйте снова или обратитесь к провайдеру.`,
};

export const MESSAGES: Record<Lang, Messages> = { en, ru };

const STORED = 'billfold.lang';

/** The language chosen with the switch, else the browser's (Russian when it prefers it). */
function initialLang(): Lang {
  const stored = window.localStorage.getItem(STORED);
  if (stored === 'en' || stored === 'ru') return stored;
  return window.navigator.language.toLowerCase().startsWith('ru') ? 'ru' : 'en';
}

const I18n = createContext<{ lang: Lang; t: Messages; setLang: (l: Lang) => void } | null>(null);

export function I18nProvider({ children }: { children: ReactNode }) {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const setLang = (l: Lang) => {
    window.localStorage.setItem(STORED, l);
    document.documentElement.lang = l;
    setLangState(l);
  };
  return <I18n.Provider value={{ lang, t: MESSAGES[lang], setLang }}>{children}</I18n.Provider>;
}

export function useI18n() {
  const v = useContext(I18n);
  if (!v) throw new Error('useI18n outside I18nProvider');
  return v;
}

/** What to tell the user about a refused request: the sentence for its code, or a generic one naming it. */
export const errorSentence = (t: Messages, code: string): string => t.errors[code] ?? t.unknownError(code);
